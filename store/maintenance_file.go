package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/slogate/slogate/maintenance"
)

// The windows file, maintenance.json, is
//
//	{"nextID": 8, "windows": [{"id": "mw-7", "created": "...", "spec": {...}}, ...]}
//
// nextID is the number of the next window's ID ("mw-8"): persisted, so
// that an ID is never given twice, also after the newest window was deleted
// and slogate restarted. Older versions wrote the bare array of windows; it
// is read as well (the next ID then follows the highest ID in the windows
// and the audit log).
type windowsFileJSON struct {
	NextID  int               `json:"nextID"`
	Windows []json.RawMessage `json:"windows"`
}

// storedWindow is a window as maintenance.json keeps it.
type storedWindow struct {
	ID      string           `json:"id"`
	Created time.Time        `json:"created"`
	Spec    maintenance.Spec `json:"spec"`
}

// loadWindows reads maintenance.json. A window that does not load is
// reported with its position and ID, counted, and kept in the file as it
// is; a file that is not JSON at all is renamed aside (reported and
// counted), so that slogate starts either way.
func (s *Maintenance) loadWindows() error {
	path := filepath.Join(s.cfg.Dir, windowsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot read maintenance windows: %w", err)
	}
	var file windowsFileJSON
	if data = bytes.TrimSpace(data); data[0] == '[' {
		err = json.Unmarshal(data, &file.Windows)
	} else {
		err = json.Unmarshal(data, &file)
	}
	if err != nil {
		aside := path + ".corrupt-" + strconv.FormatInt(s.cfg.Now().Unix(), 10)
		if rerr := os.Rename(path, aside); rerr != nil {
			return fmt.Errorf("cannot parse %s (%w) nor move it aside: %w", path, err, rerr)
		}
		s.cfg.Log.Error("maintenance windows file does not parse; moved aside, starting without API windows", "file", path, "movedTo", aside, "err", err)
		s.stats.WindowsSkipped++
		s.windowsLost = true
		return nil
	}
	s.nextID = max(s.nextID, file.NextID)
	for i, raw := range file.Windows {
		var sw storedWindow
		err := json.Unmarshal(raw, &sw)
		var m *maintenance.Window
		if err == nil {
			m, err = maintenance.New(sw.Spec, sw.Created)
		}
		if err != nil {
			s.cfg.Log.Error("maintenance window does not load; skipped (kept in the file)", "file", path, "position", i, "id", sw.ID, "err", err)
			s.stats.WindowsSkipped++
			s.skipped = append(s.skipped, raw)
			if s.skippedIDs == nil {
				s.skippedIDs = map[string]bool{}
			}
			s.skippedIDs[sw.ID] = true
			s.bumpID(sw.ID)
			continue
		}
		m.ID, m.Source = sw.ID, maintenance.FromAPI
		s.api = append(s.api, m)
		s.bumpID(sw.ID)
	}
	return nil
}

// encodeWindows is the content of maintenance.json: windows, then the
// skipped ones as they were read.
func encodeWindows(windows []*maintenance.Window, skipped []json.RawMessage, nextID int) ([]byte, error) {
	// One window a line: readable, and cheaper than indenting 10,000.
	buf := append(make([]byte, 0, 256*(len(windows)+len(skipped)+1)), `{"nextID": `...)
	buf = strconv.AppendInt(buf, int64(nextID), 10)
	buf = append(buf, `, "windows": [`...)
	sep := "\n  "
	for _, m := range windows {
		raw, err := json.Marshal(storedWindow{ID: m.ID, Created: m.Created, Spec: m.Spec()})
		if err != nil {
			return nil, err
		}
		buf = append(append(buf, sep...), raw...)
		sep = ",\n  "
	}
	for _, raw := range skipped {
		buf = append(append(buf, sep...), raw...)
		sep = ",\n  "
	}
	return append(buf, "\n]}\n"...), nil
}
