package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/slogate/slogate/maintenance"
)

// AuditEntry is one change of the maintenance windows.
type AuditEntry struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"` // "create", "update" or "delete"
	ID     string    `json:"id"`
	// Actor is the name of the API token that made the change (the name
	// before ":" in -api.tokenFile); Author is the free text the caller
	// gave.
	Actor  string            `json:"actor,omitempty"`
	Author string            `json:"author"`
	Reason string            `json:"reason"`
	Before *maintenance.Spec `json:"before,omitempty"`
	After  *maintenance.Spec `json:"after,omitempty"`
}

// auditLog is the append-only audit log: one JSON entry per line, each
// written and fsynced before the change it describes is applied. size is
// the length of its good prefix, whole lines only: anything beyond it (the
// rest of a failed append) is cut off before the next append.
type auditLog struct {
	fs   FS
	path string
	size int64
}

// auditLoad is what loading the audit log found.
type auditLoad struct {
	entries   []AuditEntry // the newest maxAuditInMemory
	lastStart int64        // offset of the last entry's line
	skipped   []string     // lines that do not parse, with their position
	torn      string       // the torn last line cut off, with its position
}

// load reads the log. A last line without its newline or that does not
// parse is what a crash or a full disk in the middle of an append leaves:
// it described a change that was not acknowledged, so it is cut off (the
// next entry would otherwise be glued to it). A bad line before the last
// is skipped and reported.
func (l *auditLog) load() (auditLoad, error) {
	var res auditLoad
	f, err := l.fs.OpenFile(l.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return res, fmt.Errorf("cannot open audit log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var off int64
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return res, fmt.Errorf("cannot read audit log: %w", err)
		}
		complete := err == nil
		var e AuditEntry
		perr := json.Unmarshal(bytes.TrimSpace(line), &e)
		switch {
		case !complete || perr != nil && isLast(r):
			res.torn = fmt.Sprintf("line %d (byte offset %d, %d bytes)", lineNo, off, len(line))
			if err := f.Truncate(off); err != nil {
				return res, fmt.Errorf("cannot repair the torn last line of the audit log: %w", err)
			}
			if err := f.Sync(); err != nil {
				return res, fmt.Errorf("cannot repair the torn last line of the audit log: %w", err)
			}
			l.size = off
			return res, nil
		case perr != nil:
			res.skipped = append(res.skipped, fmt.Sprintf("line %d (byte offset %d): %v", lineNo, off, perr))
		default:
			res.entries = append(res.entries, e)
			if len(res.entries) > 2*maxAuditInMemory {
				res.entries = append(res.entries[:0], res.entries[len(res.entries)-maxAuditInMemory:]...)
			}
			res.lastStart = off
		}
		off += int64(len(line))
	}
	if len(res.entries) > maxAuditInMemory {
		res.entries = res.entries[len(res.entries)-maxAuditInMemory:]
	}
	l.size = off
	return res, nil
}

// isLast reports whether r has nothing left to read.
func isLast(r *bufio.Reader) bool {
	_, err := r.Peek(1)
	return err != nil
}

// append writes line (ending in a newline) and fsyncs it. On any error
// the file is cut back to its good prefix, so that a failed change leaves
// no entry; if even that fails, the next append cuts it first and the next
// start finds it torn or unmatched.
func (l *auditLog) append(line []byte) error {
	f, err := l.fs.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return err
	} else if fi.Size() != l.size {
		if err := f.Truncate(l.size); err != nil {
			return err
		}
	}
	_, err = f.Write(line)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		if terr := f.Truncate(l.size); terr == nil {
			f.Sync()
		}
		return err
	}
	l.size += int64(len(line))
	return nil
}

// truncate cuts the log back to size (an entry whose change failed).
func (l *auditLog) truncate(size int64) error {
	l.size = size
	f, err := l.fs.OpenFile(l.path, os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
