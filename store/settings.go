package store

import (
	"fmt"
)

// Setting decodes the JSON value stored under key into v; ErrNotFound when
// the key was never set.
func (s *Store) Setting(key string, v any) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := s.db.View(func(txn kvTxn) error { return get(txn, settingKey(key), v) })
	if err != nil {
		return fmt.Errorf("store: setting %q: %w", key, err)
	}
	return nil
}

// PutSetting stores v, encoded as JSON, under key. Durable when it returns.
func (s *Store) PutSetting(key string, v any) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if key == "" {
		return fmt.Errorf("store: put setting %q: empty key", key)
	}
	err := s.updateSync(func(txn kvTxn) error { return put(txn, settingKey(key), v) })
	if err != nil {
		return fmt.Errorf("store: put setting %q: %w", key, err)
	}
	return nil
}
