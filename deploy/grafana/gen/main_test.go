package main

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// TestCommittedDashboardIsGenerated fails when deploy/grafana/slogate.json
// was edited by hand or this program changed without regenerating it.
func TestCommittedDashboardIsGenerated(t *testing.T) {
	want, err := render()
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(want) {
		t.Fatalf("rendered dashboard is not valid JSON")
	}
	got, err := os.ReadFile("../slogate.json")
	if err != nil {
		t.Fatalf("cannot read committed dashboard: %s", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("deploy/grafana/slogate.json is out of date: run go generate ./deploy/grafana/gen")
	}
}

// TestLayout checks what Grafana would silently get wrong: duplicate panel
// ids, panels wider than the grid, and overlapping panels.
func TestLayout(t *testing.T) {
	var d struct {
		Panels []panel `json:"panels"`
	}
	b, err := render()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var all []panel
	for _, p := range d.Panels {
		all = append(all, p)
		all = append(all, p.Panels...)
	}
	ids := map[int]string{}
	for i, p := range all {
		if prev, ok := ids[p.ID]; ok {
			t.Errorf("panel %q reuses id %d of %q", p.Title, p.ID, prev)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: bad grid position %+v", p.Title, g)
		}
		for _, q := range all[:i] {
			h := q.GridPos
			if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
				t.Errorf("panels %q %+v and %q %+v overlap", p.Title, g, q.Title, h)
			}
		}
	}
}

type panel struct {
	ID      int    `json:"id"`
	Title   string `json:"title"`
	GridPos struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Panels []panel `json:"panels"`
}
