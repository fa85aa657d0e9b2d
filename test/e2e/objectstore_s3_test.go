package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/s3api"
)

// s3Endpoint is the object store's proxy (where the S3 API answers) and the
// cloud's region, read from the catalog.
func s3Endpoint(t *testing.T, c *Cloud) (string, string) {
	t.Helper()
	var endpoints []row
	OSJSON(t, c, "nimbus-admin", &endpoints, "endpoint", "list", "--service", "object-store", "--interface", "public")
	if len(endpoints) == 0 {
		t.Fatal("no object-store endpoint in the catalog")
	}
	base, _, _ := strings.Cut(str(endpoints[0], "URL"), "/v1/")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u.Scheme + "://" + u.Host, str(endpoints[0], "Region")
}

// ec2Credentials makes EC2 credentials for cloud's user on its project
// (openstack ec2 credentials create), deleted when the test ends.
func ec2Credentials(t *testing.T, c *Cloud, cloud string) (string, string) {
	t.Helper()
	access, secret, _ := ec2CredentialsOf(t, c, cloud)
	return access, secret
}

// ec2CredentialsOf is ec2Credentials, and the credential's user id.
func ec2CredentialsOf(t *testing.T, c *Cloud, cloud string) (string, string, string) {
	t.Helper()
	var cred row
	OSJSON(t, c, cloud, &cred, "ec2", "credentials", "create")
	access, secret := str(cred, "access"), str(cred, "secret")
	if access == "" || secret == "" {
		t.Fatalf("ec2 credentials create: %v", cred)
	}
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), cloud, "ec2", "credentials", "delete", access) })
	return access, secret, str(cred, "user_id")
}

// TestObjectStoreS3Identity: the proxy's identity client against the real
// identity service, as the all-in-one wires it: s3tokens answers a SigV2
// signature made with the secret, refuses another, and the service user
// reads the secret (for chunk signatures).
func TestObjectStoreS3Identity(t *testing.T) {
	t.Parallel()
	c := shared
	var endpoints []row
	OSJSON(t, c, "nimbus-admin", &endpoints, "endpoint", "list", "--service", "identity", "--interface", "public")
	if len(endpoints) == 0 {
		t.Fatal("no identity endpoint")
	}
	access, secret, userID := ec2CredentialsOf(t, c, "nimbus-demo")
	k := &s3api.KeystoneS3Tokens{URL: str(endpoints[0], "URL"), Username: "admin", Password: c.Secret("admin"), ProjectName: "admin"}
	sts := "GET\n\n\n" + time.Now().UTC().Format(http.TimeFormat) + "\n/bucket"
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	creds, err := k.CheckSignature(context.Background(), access, sts, base64.StdEncoding.EncodeToString(m.Sum(nil)))
	if err != nil || creds.UserID != userID || creds.ProjectID == "" || len(creds.Roles) == 0 {
		t.Fatalf("s3tokens with the right signature: %+v %v", creds, err)
	}
	if _, err := k.CheckSignature(context.Background(), access, sts, "bm90IGl0"); !errors.Is(err, s3api.ErrSignature) {
		t.Fatalf("s3tokens with a wrong signature: %v", err)
	}
	if got, err := k.Secret(context.Background(), userID, access); err != nil || got != secret {
		t.Fatalf("reading the credential's secret: %v", err)
	}
}

// awsCLI runs Debian's aws CLI with the given credentials, path-style, at the endpoint.
type awsCLI struct {
	endpoint, region, access, secret, dir string
}

func (a awsCLI) run(args ...string) (string, error) {
	bin := "/usr/bin/aws" // Debian's awscli, not one a user installed elsewhere
	if _, err := os.Stat(bin); err != nil {
		bin = "aws"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", a.endpoint}, args...)...)
	config := filepath.Join(a.dir, "aws-config")
	if err := os.WriteFile(config, []byte("[default]\ns3 =\n  addressing_style = path\n"), 0o600); err != nil {
		return "", err
	}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "OS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "AWS_ACCESS_KEY_ID="+a.access, "AWS_SECRET_ACCESS_KEY="+a.secret,
		"AWS_DEFAULT_REGION="+a.region, "AWS_CONFIG_FILE="+config, "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(a.dir, "none"),
		"AWS_PAGER=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("aws %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (a awsCLI) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := a.run(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fileMD5 is the hex MD5 of a file's bytes.
func fileMD5(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// plainGet fetches a URL with plain HTTP, no token.
func plainGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestObjectStoreS3CLI drives the S3 API with Debian's aws CLI and s3cmd as
// the demo user, with EC2 credentials from `openstack ec2 credentials
// create`: a bucket made, a 100 MiB file copied in (multipart) and back
// (bytes identical) and within the store (UploadPartCopy), listed, its head read, a presigned URL fetched with
// plain HTTP (a forged or expired one refused), removed, the bucket removed;
// s3cmd likewise with SigV2 and SigV4; another project's credentials neither
// list nor read the bucket.
func TestObjectStoreS3CLI(t *testing.T) {
	t.Parallel()
	c := shared
	dir := t.TempDir()
	endpoint, region := s3Endpoint(t, c)
	access, secret := ec2Credentials(t, c, "nimbus-demo")
	aws := awsCLI{endpoint: endpoint, region: region, access: access, secret: secret, dir: dir}
	bucket := uniqueName("s3-cli")

	big := filepath.Join(dir, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, 100<<20); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	bigMD5 := fileMD5(t, big)

	aws.must(t, "s3", "mb", "s3://"+bucket)
	t.Cleanup(func() { _, _ = aws.run("s3", "rb", "--force", "s3://"+bucket) })
	if out := aws.must(t, "s3", "ls"); !strings.Contains(out, bucket) {
		t.Fatalf("s3 ls lacks %s:\n%s", bucket, out)
	}
	aws.must(t, "s3", "cp", "--only-show-errors", big, "s3://"+bucket+"/dir/big.bin")
	head := aws.must(t, "s3api", "head-object", "--bucket", bucket, "--key", "dir/big.bin")
	// a multipart upload's ETag: the MD5 of its parts' MD5s and their count
	// (the aws CLI sends 100 MiB in 8 MiB parts)
	if !strings.Contains(head, `"ContentLength": 104857600`) || !strings.Contains(head, `-13\"`) {
		t.Fatalf("head-object of the multipart upload:\n%s", head)
	}
	back := filepath.Join(dir, "big.back")
	aws.must(t, "s3", "cp", "--only-show-errors", "s3://"+bucket+"/dir/big.bin", back)
	if got := fileMD5(t, back); got != bigMD5 {
		t.Fatalf("downloaded MD5 %s, uploaded %s", got, bigMD5)
	}
	_ = os.Remove(back)
	// a copy within the store: the aws CLI copies large objects part by part
	// (UploadPartCopy with ranges)
	aws.must(t, "s3", "cp", "--only-show-errors", "s3://"+bucket+"/dir/big.bin", "s3://"+bucket+"/dir/copy.bin")
	if head := aws.must(t, "s3api", "head-object", "--bucket", bucket, "--key", "dir/copy.bin"); !strings.Contains(head, `"ContentLength": 104857600`) {
		t.Fatalf("head-object of the copy:\n%s", head)
	}
	aws.must(t, "s3", "rm", "s3://"+bucket+"/dir/copy.bin")
	if out := aws.must(t, "s3", "ls", "s3://"+bucket+"/dir/"); !strings.Contains(out, "104857600 big.bin") {
		t.Fatalf("s3 ls of the bucket:\n%s", out)
	}

	small := filepath.Join(dir, "small.txt")
	if err := os.WriteFile(small, []byte("hello from s3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	aws.must(t, "s3", "cp", "--only-show-errors", small, "s3://"+bucket+"/small.txt")
	presigned := strings.TrimSpace(aws.must(t, "s3", "presign", "s3://"+bucket+"/small.txt", "--expires-in", "300"))
	if status, body := plainGet(t, presigned); status != http.StatusOK || body != "hello from s3\n" {
		t.Fatalf("presigned GET: %d %q", status, body)
	}
	forged := strings.Replace(presigned, "X-Amz-Signature=", "X-Amz-Signature=0", 1)
	if status, body := plainGet(t, forged); status != http.StatusForbidden || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
		t.Fatalf("forged presigned GET: %d %s", status, body)
	}
	expiring := strings.TrimSpace(aws.must(t, "s3", "presign", "s3://"+bucket+"/small.txt", "--expires-in", "1"))
	time.Sleep(2 * time.Second)
	if status, body := plainGet(t, expiring); status != http.StatusForbidden || !strings.Contains(body, "Request has expired") {
		t.Fatalf("expired presigned GET: %d %s", status, body)
	}

	// another project's credentials reach only that project's account
	otherAccess, otherSecret := ec2Credentials(t, c, "nimbus-admin")
	other := awsCLI{endpoint: endpoint, region: region, access: otherAccess, secret: otherSecret, dir: dir}
	if out, err := other.run("s3", "ls", "s3://"+bucket); err == nil || !strings.Contains(out, "NoSuchBucket") {
		t.Fatalf("another project lists the bucket: %v\n%s", err, out)
	}
	if out, err := other.run("s3", "cp", "s3://"+bucket+"/small.txt", filepath.Join(dir, "stolen")); err == nil {
		t.Fatalf("another project reads the object:\n%s", out)
	}
	// a wrong secret is refused
	wrong := aws
	wrong.secret = "not-the-secret"
	if out, err := wrong.run("s3", "ls", "s3://"+bucket); err == nil || !strings.Contains(out, "SignatureDoesNotMatch") {
		t.Fatalf("a wrong secret lists the bucket: %v\n%s", err, out)
	}

	aws.must(t, "s3", "rm", "s3://"+bucket+"/dir/big.bin")
	aws.must(t, "s3", "rm", "s3://"+bucket+"/small.txt")
	if out := aws.must(t, "s3", "ls", "s3://"+bucket); strings.TrimSpace(out) != "" {
		t.Fatalf("bucket not empty after rm:\n%s", out)
	}
	aws.must(t, "s3", "rb", "s3://"+bucket)
	if out := aws.must(t, "s3", "ls"); strings.Contains(out, bucket) {
		t.Fatalf("s3 ls still lists %s:\n%s", bucket, out)
	}

	// s3cmd, with signature v2 and v4
	u, _ := url.Parse(endpoint)
	for _, v2 := range []bool{true, false} {
		cfg := filepath.Join(dir, fmt.Sprintf("s3cfg-%v", v2))
		conf := fmt.Sprintf("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\n"+
			"use_https = False\nsignature_v2 = %v\nbucket_location = %s\n", access, secret, u.Host, u.Host, map[bool]string{true: "True", false: "False"}[v2], region)
		if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		s3cmd := func(args ...string) string {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, "s3cmd", append([]string{"-c", cfg}, args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("s3cmd %s (signature v2 %v): %v\n%s", strings.Join(args, " "), v2, err, out)
			}
			return string(out)
		}
		b := uniqueName(fmt.Sprintf("s3cmd-v2-%v", v2))
		s3cmd("mb", "s3://"+b)
		t.Cleanup(func() {
			_ = exec.Command("s3cmd", "-c", cfg, "del", "--recursive", "--force", "s3://"+b).Run()
			_ = exec.Command("s3cmd", "-c", cfg, "rb", "s3://"+b).Run()
		})
		s3cmd("put", small, "s3://"+b+"/x/small.txt")
		if out := s3cmd("ls", "s3://"+b+"/x/"); !strings.Contains(out, "s3://"+b+"/x/small.txt") {
			t.Fatalf("s3cmd ls:\n%s", out)
		}
		got := filepath.Join(dir, fmt.Sprintf("got-%v", v2))
		s3cmd("get", "--force", "s3://"+b+"/x/small.txt", got)
		if data, err := os.ReadFile(got); err != nil || string(data) != "hello from s3\n" {
			t.Fatalf("s3cmd get: %q %v", data, err)
		}
		s3cmd("del", "s3://"+b+"/x/small.txt")
		s3cmd("rb", "s3://"+b)
	}
}
