package fernet

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Repository is a directory of key files named by index, as keystone-manage
// fernet_setup writes them: 0 is the staged key (valid for decryption, so that every
// node has it before it becomes primary), the highest index is the primary key that
// encrypts, and the others are secondary keys still accepted until rotated out.
type Repository struct {
	dir       string
	maxActive int

	mu         sync.RWMutex
	primary    Key
	all        []Key // primary first
	generation uint64
}

// Generation changes whenever the set of keys changes, so caches of opened tokens
// can drop entries whose key may have been retired.
func (r *Repository) Generation() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.generation
}

// OpenRepository loads dir, creating it with a staged and a primary key when empty.
func OpenRepository(dir string, maxActive int) (*Repository, error) {
	if maxActive < 2 {
		maxActive = 3
	}
	r := &Repository{dir: dir, maxActive: maxActive}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key repository: %w", err)
	}
	idx, err := r.indexes()
	if err != nil {
		return nil, err
	}
	if len(idx) == 0 {
		if err := r.writeNewKey(0); err != nil {
			return nil, err
		}
		if err := r.Rotate(); err != nil {
			return nil, err
		}
		return r, nil
	}
	return r, r.Reload()
}

// Keys returns the keys to try when decrypting, primary first.
func (r *Repository) Keys() []Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.all
}

// Primary returns the key that encrypts new tokens.
func (r *Repository) Primary() *Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k := r.primary
	return &k
}

// Reload reads the key files again (after another process rotated them).
func (r *Repository) Reload() error {
	idx, err := r.indexes()
	if err != nil {
		return err
	}
	if len(idx) == 0 {
		return fmt.Errorf("key repository %s is empty", r.dir)
	}
	keys := make([]Key, 0, len(idx))
	for i := len(idx) - 1; i >= 0; i-- { // highest (primary) first
		data, err := os.ReadFile(filepath.Join(r.dir, strconv.Itoa(idx[i])))
		if err != nil {
			return fmt.Errorf("read key %d: %w", idx[i], err)
		}
		k, err := ParseKey(strings.TrimSpace(string(data)))
		if err != nil {
			return fmt.Errorf("key %d: %w", idx[i], err)
		}
		keys = append(keys, k)
	}
	r.mu.Lock()
	if !slices.Equal(r.all, keys) {
		r.all, r.primary = keys, keys[0]
		r.generation++
	}
	r.mu.Unlock()
	return nil
}

// Rotate promotes the staged key to primary, stages a new key and removes the oldest
// secondary keys beyond maxActive, exactly as keystone-manage fernet_rotate.
func (r *Repository) Rotate() error {
	idx, err := r.indexes()
	if err != nil {
		return err
	}
	next := 1
	if len(idx) > 0 {
		next = idx[len(idx)-1] + 1
	}
	if err := os.Rename(filepath.Join(r.dir, "0"), filepath.Join(r.dir, strconv.Itoa(next))); err != nil {
		return fmt.Errorf("promote staged key: %w", err)
	}
	if err := r.writeNewKey(0); err != nil {
		return err
	}
	idx, err = r.indexes()
	if err != nil {
		return err
	}
	// idx is sorted; idx[0] is the staged key. Keep staged + newest maxActive-1.
	for len(idx) > r.maxActive {
		if err := os.Remove(filepath.Join(r.dir, strconv.Itoa(idx[1]))); err != nil {
			return fmt.Errorf("retire key %d: %w", idx[1], err)
		}
		idx = append(idx[:1], idx[2:]...)
	}
	return r.Reload()
}

func (r *Repository) writeNewKey(index int) error {
	k, err := GenerateKey()
	if err != nil {
		return err
	}
	tmp := filepath.Join(r.dir, ".tmp-"+strconv.Itoa(index))
	if err := os.WriteFile(tmp, []byte(k.String()), 0o600); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	f, err := os.Open(tmp)
	if err == nil {
		_ = f.Sync()
		_ = f.Close()
	}
	return os.Rename(tmp, filepath.Join(r.dir, strconv.Itoa(index)))
}

func (r *Repository) indexes() ([]int, error) {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("read key repository: %w", err)
	}
	var idx []int
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n >= 0 {
			idx = append(idx, n)
		}
	}
	slices.Sort(idx)
	return idx, nil
}
