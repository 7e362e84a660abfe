package portal

import (
	"net/http"
	"time"
)

// backupsAPI serves /api/v1/backups (its own type: adminAPI is full).
type backupsAPI struct{ *Service }

// backupCreated is the answer of POST /api/v1/backups.
type backupCreated struct {
	File string    `json:"file"`
	Size int64     `json:"size"`
	Time time.Time `json:"time"`
}

// apiCreateBackup takes a backup now (owners only; see core.Backups).
func (s backupsAPI) apiCreateBackup(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		rec, err := s.core.Backups.Create(c)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, backupCreated{File: rec.File, Size: rec.Size, Time: rec.Time}, nil
	})
}

// apiListBackups returns the backup history, newest first (owners only).
func (s backupsAPI) apiListBackups(w http.ResponseWriter, r *http.Request) {
	s.apiDo(w, r, func(c *caller) (int, any, error) {
		hist, err := s.core.Backups.History(c)
		return http.StatusOK, hist, err
	})
}
