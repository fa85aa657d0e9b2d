package storage

import (
	"database/sql"
	"time"
)

// closeLater closes an evicted database once requests that took it before
// its eviction are done with it.
func closeLater(db *sql.DB) {
	time.Sleep(30 * time.Second)
	_ = db.Close()
}
