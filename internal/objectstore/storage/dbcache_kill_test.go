package storage

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// killChildEnv, set, makes the test binary the child of
// TestDBCommitSurvivesKill: it commits object rows to the database it
// names, printing each row's number once its commit returned, until killed.
const killChildEnv = "NIMBUS_TEST_DB_KILL_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(killChildEnv); path != "" {
		commitUntilKilled(path)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func commitUntilKilled(path string) {
	dbs := newDBCache(4)
	db, err := dbs.open(path, containerDB.schema, true)
	if err != nil {
		fmt.Println("error", err)
		return
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			fmt.Println("error", err)
			return
		}
		if _, _, err := mergeObjectRow(ctx, tx, objectRow{Name: "o" + strconv.Itoa(i), Created: swob.Now(), Size: 1}); err != nil {
			fmt.Println("error", err)
			return
		}
		if err := tx.Commit(); err != nil {
			fmt.Println("error", err)
			return
		}
		fmt.Println(i) // acknowledged
	}
}

// TestDBCommitSurvivesKill: a process killed with SIGKILL while committing
// container rows (synchronous=NORMAL, no fsync per commit) loses none whose
// commit had returned, as upstream's unsynced .pending file loses none.
func TestDBCommitSurvivesKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		n, err := strconv.Atoi(lines.Text())
		if err != nil {
			t.Fatalf("child: %s", lines.Text())
		}
		acked = n
		if acked == 300 {
			break
		}
	}
	_ = cmd.Process.Kill() // SIGKILL: no deferred close, no checkpoint
	_ = cmd.Wait()
	if acked < 300 {
		t.Fatalf("the child acknowledged %d rows before it ended", acked+1)
	}
	dbs := newDBCache(4)
	defer dbs.closeAll()
	db, err := dbs.open(path, containerDB.schema, false)
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := db.QueryRow(`SELECT count(*) FROM object WHERE name IN (`+killTestPlaceholders(acked+1)+`)`, killTestNames(acked+1)...).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != acked+1 {
		t.Fatalf("%d of %d acknowledged rows survived the kill", rows, acked+1)
	}
}

func killTestPlaceholders(n int) string {
	s := "?"
	for range n - 1 {
		s += ",?"
	}
	return s
}

func killTestNames(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = "o" + strconv.Itoa(i)
	}
	return out
}
