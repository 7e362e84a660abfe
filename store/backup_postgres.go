package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"
)

// A backup is Badger's stream on both engines: frames of a little-endian
// uint64 length and a protobuf pb.KVList. Badger's Load reads what the
// PostgreSQL engine writes (one version per key, version 1), and
// restorePostgres reads what Badger's Backup writes (the newest version of
// each key comes first; a deleted or expired newest version means no
// record).

// Badger's meta bits a backup may carry (badger/v4 value.go).
const badgerBitDelete = 1 << 0

// backupFrameBytes is about how much one frame of a PostgreSQL backup holds.
const backupFrameBytes = 4 << 20

// backup writes every live record in one consistent snapshot.
func (p *pgKV) backup(w io.Writer) error {
	return p.View(func(txn kvTxn) error {
		it := txn.NewIterator(defaultIterOptions)
		defer it.Close()
		list := &pb.KVList{}
		size := 0
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			v, _ := item.ValueCopy(nil)
			list.Kv = append(list.Kv, &pb.KV{Key: item.KeyCopy(nil), Value: v, ExpiresAt: item.ExpiresAt(),
				Version: 1, UserMeta: []byte{0}, Meta: []byte{0}})
			size += len(v) + len(item.Key()) + 16
			if size >= backupFrameBytes {
				if err := writeFrame(w, list); err != nil {
					return err
				}
				list, size = &pb.KVList{}, 0
			}
		}
		if len(list.Kv) > 0 {
			return writeFrame(w, list)
		}
		return nil
	})
}

// writeFrame writes one length-prefixed KVList.
func writeFrame(w io.Writer, list *pb.KVList) error {
	b, err := proto.Marshal(list)
	if err != nil {
		return err
	}
	if err := binary.Write(w, binary.LittleEndian, uint64(len(b))); err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// restorePostgres loads a backup into the database at dsn, which must hold
// no records; on failure it deletes what it wrote.
func restorePostgres(dsn string, r io.Reader) (err error) {
	name := RedactDSN(dsn)
	p, err := openPostgres(dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), pgTxTimeout)
	defer cancel()
	var used bool
	if err := p.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM kv)").Scan(&used); err != nil {
		return fmt.Errorf("store: restore into %s: %w", name, err)
	}
	if used {
		return fmt.Errorf("store: restore into %s: the database holds records (restore only into a new database)", name)
	}
	defer func() {
		if err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), pgTxTimeout)
			defer cancel()
			_, _ = p.pool.Exec(ctx, "DELETE FROM kv")
		}
	}()
	if err := p.load(r); err != nil {
		return fmt.Errorf("store: restore into %s: load backup: %w", name, err)
	}
	if err := checkRestoredSchema(p); err != nil {
		return fmt.Errorf("store: restore into %s: %w", name, err)
	}
	return nil
}

// load writes the live records of a backup stream.
func (p *pgKV) load(r io.Reader) error {
	fr := &frameChecker{r: r}
	var prev []byte // key of the last record seen: older versions follow it
	seen := false
	b := p.NewWriteBatch().(*pgBatch)
	now := uint64(time.Now().Unix())
	var buf []byte
	for {
		var n uint64
		err := binary.Read(fr, binary.LittleEndian, &n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if uint64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		if _, err := io.ReadFull(fr, buf[:n]); err != nil {
			return err
		}
		list := &pb.KVList{}
		if err := proto.Unmarshal(buf[:n], list); err != nil {
			return fmt.Errorf("malformed backup: %w", err)
		}
		for _, kv := range list.Kv {
			if kv.StreamDone || (seen && string(kv.Key) == string(prev)) {
				continue // an older version of the key just handled
			}
			prev, seen = kv.Key, true
			if len(kv.Meta) > 0 && kv.Meta[0]&badgerBitDelete != 0 || kv.ExpiresAt != 0 && kv.ExpiresAt <= now {
				continue
			}
			if err := b.add(pgOp{key: kv.Key, val: kv.Value, exp: kv.ExpiresAt}); err != nil {
				return err
			}
		}
	}
	return b.Flush()
}
