package main

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/slogate/slogate/remotewrite"
)

// The payload model: a fixed universe of series, scraped in rounds. One
// round sends every series once, one sample each, split into blocks of
// SamplesPerBlock series (as vmagent sends scrapes: 10,000 rows per block).
// Every block holds exactly SLIPercent % ingress-nginx series; the rest look
// like node-exporter series. Round r stamps every sample with
// Start + r*Interval and sets every counter to base + r*increment, so
// successive rounds look like successive scrapes: timestamps advance and
// counters grow monotonically, and an SLI engine on the path does real work
// (new deltas, new minute buckets) instead of discarding duplicates.

// PayloadConfig describes the series universe. Zero fields take the defaults
// named.
type PayloadConfig struct {
	// SamplesPerBlock is the number of series (one sample each) per request.
	// Default 10,000.
	SamplesPerBlock int
	// SLIPercent is the share of ingress-nginx series in every block, in
	// percent; SamplesPerBlock*SLIPercent/100 must be a whole number. 0 means
	// none. Default 1.
	SLIPercent int
	// Routes is the number of distinct ingress routes (namespace, ingress,
	// host, path). Default 2,000.
	Routes int
	// SLISeries is the number of ingress series (routes x up to 12 status
	// codes) in the universe; rounded up to fill whole blocks. Default
	// 3,000, i.e. 30 blocks per round at 1% and 3 at 10%; the command
	// takes InOrderSLISeries.
	SLISeries int
	// Start is the timestamp of round 0 in Unix milliseconds; it must lie
	// in [2^35, 2^42) so that every timestamp encodes as a 6-byte varint
	// (years 1971 to 2109). Required.
	Start int64
	// IntervalMs is how far the timestamps advance per round. Default
	// 15,000 (a 15s scrape interval).
	IntervalMs int64
	// Scattered sends the ingress series of one route far apart (series j
	// of the universe in order, route j mod Routes): every SLI sample is
	// another route's. By default a route's series follow each other, as
	// in a scrape of an ingress controller (client_golang lists a family's
	// series sorted by label values) that vmagent forwards in order.
	Scattered bool
}

func (c *PayloadConfig) defaults() {
	if c.SamplesPerBlock <= 0 {
		c.SamplesPerBlock = 10_000
	}
	if c.Routes <= 0 {
		c.Routes = 2000
	}
	if c.SLISeries <= 0 {
		c.SLISeries = 3000
	}
	if c.IntervalMs <= 0 {
		c.IntervalMs = 15_000
	}
}

// Timestamps in [minTimestamp, maxTimestamp) encode as exactly six varint
// bytes, which is what lets a block be patched in place.
const (
	minTimestamp = int64(1) << 35
	maxTimestamp = int64(1) << 42
	tsVarintLen  = 6
	// varLen is the fixed64 value, the timestamp tag and the timestamp:
	// the bytes of a sample that change from round to round.
	varLen = 8 + 1 + tsVarintLen
)

// sampleVar locates the changing bytes of one sample in a block and says
// how its value grows.
type sampleVar struct {
	off  int     // offset of the 8 value bytes; the timestamp follows its tag
	base float64 // value in round 0
	inc  float64 // added per round; >= 0, so counters are monotonic
}

// Payload is the series universe, encoded once as one protobuf template per
// block. It is read-only after NewPayload and safe for concurrent use.
type Payload struct {
	cfg          PayloadConfig
	sliPerBlock  int
	blocks       [][]byte      // uncompressed WriteRequest templates
	vars         [][]sampleVar // per block, per sample
	seriesTotal  int
	sliSeriesNum int
}

// NewPayload builds the universe described by cfg.
func NewPayload(cfg PayloadConfig) (*Payload, error) {
	cfg.defaults()
	if cfg.SLIPercent < 0 || cfg.SLIPercent > 100 {
		return nil, fmt.Errorf("cannot build payload: SLI share %d%% is not in [0, 100]", cfg.SLIPercent)
	}
	if cfg.SamplesPerBlock*cfg.SLIPercent%100 != 0 {
		return nil, fmt.Errorf("cannot build payload: %d%% of %d samples per block is not a whole number", cfg.SLIPercent, cfg.SamplesPerBlock)
	}
	if cfg.Start < minTimestamp || cfg.Start >= maxTimestamp {
		return nil, fmt.Errorf("cannot build payload: start %d ms is outside [2^35, 2^42)", cfg.Start)
	}
	p := &Payload{cfg: cfg, sliPerBlock: cfg.SamplesPerBlock * cfg.SLIPercent / 100}
	nBlocks := 1
	if p.sliPerBlock > 0 {
		nBlocks = (cfg.SLISeries + p.sliPerBlock - 1) / p.sliPerBlock
	}
	if p.sliPerBlock > 0 && nBlocks*p.sliPerBlock > len(ingressStatuses)*cfg.Routes {
		return nil, fmt.Errorf("cannot build payload: %d ingress series need more than %d status codes on %d routes", nBlocks*p.sliPerBlock, len(ingressStatuses), cfg.Routes)
	}
	// order[k] is the universe's k-th ingress series to send.
	order := make([]int, nBlocks*p.sliPerBlock)
	for j := range order {
		order[j] = j
	}
	if !cfg.Scattered {
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(a%cfg.Routes, b%cfg.Routes) })
	}
	series := make([]remotewrite.TimeSeries, 1)
	var labels []remotewrite.Label
	sli, node := 0, 0
	for b := 0; b < nBlocks; b++ {
		var buf []byte
		vars := make([]sampleVar, 0, cfg.SamplesPerBlock)
		for i := 0; i < cfg.SamplesPerBlock; i++ {
			// Spread the SLI series evenly over the block, as a scrape of
			// many targets interleaves them.
			isSLI := p.sliPerBlock > 0 && i%(cfg.SamplesPerBlock/p.sliPerBlock) == 0 &&
				i/(cfg.SamplesPerBlock/p.sliPerBlock) < p.sliPerBlock
			var v sampleVar
			if isSLI {
				labels, v = ingressSeries(labels[:0], order[sli], cfg.Routes)
				sli++
			} else {
				labels, v = nodeSeries(labels[:0], node)
				node++
			}
			series[0] = remotewrite.TimeSeries{
				Labels:  labels,
				Samples: []remotewrite.Sample{{Value: v.base, Timestamp: cfg.Start}},
			}
			buf = remotewrite.AppendWriteRequest(buf, series)
			// AppendWriteRequest writes a sample as ... 0x09 <8 value
			// bytes> 0x10 <6 timestamp bytes> and the series ends there.
			v.off = len(buf) - varLen
			if buf[v.off-1] != 0x09 || buf[v.off+8] != 0x10 {
				return nil, fmt.Errorf("BUG: unexpected sample layout at offset %d", v.off)
			}
			vars = append(vars, v)
		}
		p.blocks = append(p.blocks, buf)
		p.vars = append(p.vars, vars)
	}
	p.seriesTotal = sli + node
	p.sliSeriesNum = sli
	return p, nil
}

// InOrderSLISeries returns the ingress series of a universe with at least
// 3,000 of them and at least 2 x conns blocks per round at sliPercent of
// perBlock samples. A sender that keeps up sends a series' samples one
// scrape interval apart, so never two of them at once; so does the
// generator then: a block's next round is 2 x conns requests later, after
// the requests in flight with it have long been answered. With every
// series in every block (one block per round, as 3,000 series at 30%
// give), conns rounds of each series would be in flight together and
// arrive in any order: a reorder storm (half the SLI samples reordered,
// some older than the engine's reorder history) that no sender that
// keeps up produces.
func InOrderSLISeries(perBlock, sliPercent, conns int) int {
	per := perBlock * sliPercent / 100
	if per <= 0 {
		return 3000
	}
	return max(3000, 2*max(conns, 1)*per)
}

// Blocks is the number of blocks (requests) per round.
func (p *Payload) Blocks() int { return len(p.blocks) }

// SamplesPerBlock is the number of samples of every block.
func (p *Payload) SamplesPerBlock() int { return p.cfg.SamplesPerBlock }

// Series is the number of series in the universe.
func (p *Payload) Series() int { return p.seriesTotal }

// SLISeries is the number of ingress series in the universe.
func (p *Payload) SLISeries() int { return p.sliSeriesNum }

// Timestamp returns the sample timestamp of round r.
func (p *Payload) Timestamp(round int64) int64 { return p.cfg.Start + round*p.cfg.IntervalMs }

// Template returns the uncompressed round-0 encoding of block b. The caller
// must not modify it.
func (p *Payload) Template(b int) []byte { return p.blocks[b] }

// AppendBlock appends the uncompressed WriteRequest of block b in round
// round to dst.
func (p *Payload) AppendBlock(dst []byte, b int, round int64) ([]byte, error) {
	n := len(dst)
	dst = append(dst, p.blocks[b]...)
	if err := p.patch(dst[n:], b, round, nil); err != nil {
		return dst[:n], err
	}
	return dst, nil
}

// patch rewrites, in buf, the samples of block b for round round. offs[i]
// is where sample i's value bytes are in buf; nil means where the protobuf
// template has them (the snappy template keeps them elsewhere).
func (p *Payload) patch(buf []byte, b int, round int64, offs []int) error {
	ts := p.Timestamp(round)
	if round < 0 || ts < minTimestamp || ts >= maxTimestamp {
		return fmt.Errorf("cannot encode round %d: timestamp %d ms is outside [2^35, 2^42)", round, ts)
	}
	var tsb [tsVarintLen]byte
	putVarint6(tsb[:], uint64(ts))
	r := float64(round)
	for i, v := range p.vars[b] {
		off := v.off
		if offs != nil {
			off = offs[i]
		}
		binary.LittleEndian.PutUint64(buf[off:], math.Float64bits(v.base+r*v.inc))
		copy(buf[off+9:off+varLen], tsb[:])
	}
	return nil
}

// putVarint6 writes v, which must be in [2^35, 2^42), as a 6-byte varint.
func putVarint6(b []byte, v uint64) {
	for i := 0; i < tsVarintLen-1; i++ {
		b[i] = byte(v) | 0x80
		v >>= 7
	}
	b[tsVarintLen-1] = byte(v)
}

// Label values of the ingress series. A route is (namespace, ingress, host,
// path), slogate's ingress-nginx preset; 2,000 routes spread over 40
// namespaces, 500 ingresses and 100 hosts, served by 3 controller pods.
var (
	ingressStatuses = [...]string{"200", "404", "503", "201", "204", "301", "304", "400", "401", "403", "429", "500"}
	ingressMethods  = [...]string{"GET", "GET", "GET", "POST"}
	ingressPods     = [...]string{"ingress-nginx-controller-5c8d66c76d-4fvzq", "ingress-nginx-controller-5c8d66c76d-b7wxk", "ingress-nginx-controller-5c8d66c76d-mq2pz"}
	ingressPodIPs   = [...]string{"10.244.1.17:10254", "10.244.2.9:10254", "10.244.3.41:10254"}
)

// ingressSeries returns the labels of ingress series j, in the order
// Prometheus and vmagent send them (__name__ first, then sorted), and how
// its counter grows: route j % routes; in the first three passes over the
// routes status 200, 404, 503 shifting with every pass, then one further
// status code per pass, so that each (route, status) is distinct.
func ingressSeries(dst []remotewrite.Label, j, routes int) ([]remotewrite.Label, sampleVar) {
	r := j % routes
	pass := j / routes
	if pass < 3 {
		pass = (r + pass) % 3
	}
	status := ingressStatuses[pass%len(ingressStatuses)]
	pod := r % len(ingressPods)
	ns := fmt.Sprintf("team-%02d", r%40)
	dst = append(dst,
		remotewrite.Label{Name: "__name__", Value: "nginx_ingress_controller_requests"},
		remotewrite.Label{Name: "controller_class", Value: "k8s.io/ingress-nginx"},
		remotewrite.Label{Name: "controller_namespace", Value: "ingress-nginx"},
		remotewrite.Label{Name: "controller_pod", Value: ingressPods[pod]},
		remotewrite.Label{Name: "host", Value: fmt.Sprintf("app%03d.example.com", r%100)},
		remotewrite.Label{Name: "ingress", Value: fmt.Sprintf("web-%03d", r%500)},
		remotewrite.Label{Name: "instance", Value: ingressPodIPs[pod]},
		remotewrite.Label{Name: "job", Value: "ingress-nginx"},
		remotewrite.Label{Name: "method", Value: ingressMethods[r%len(ingressMethods)]},
		remotewrite.Label{Name: "namespace", Value: ns},
		remotewrite.Label{Name: "path", Value: fmt.Sprintf("/api/v%d/items/%d", 1+r%3, r)},
		remotewrite.Label{Name: "service", Value: fmt.Sprintf("web-%03d", r%500)},
		remotewrite.Label{Name: "status", Value: status},
	)
	v := sampleVar{base: float64(1_000 + 37*r)}
	switch status[0] {
	case '2', '3':
		v.inc = float64(50 + r%150)
		if status != "200" {
			v.inc = float64(1 + r%20)
		}
	case '4':
		v.inc = float64(r % 7)
	default:
		v.inc = float64(r % 3)
	}
	return dst, v
}

// nodeMetric is one node-exporter metric family as seen on a 16-CPU node
// with a few devices: perNode series per node.
type nodeMetric struct {
	name    string
	label   string   // distinguishing label, "" for none
	values  []string // its values
	counter bool
}

var (
	cpuModes   = []string{"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"}
	netDevices = []string{"eth0", "eth1", "lo", "cni0", "flannel.1", "veth1a2b3c4", "veth5d6e7f8", "veth9a0b1c2"}
	disks      = []string{"nvme0n1", "nvme1n1", "sda", "sdb"}
	memFields  = []string{"MemTotal_bytes", "MemFree_bytes", "MemAvailable_bytes", "Buffers_bytes", "Cached_bytes", "SwapTotal_bytes", "SwapFree_bytes", "Active_bytes", "Inactive_bytes", "Dirty_bytes"}
	nodeFamily = buildNodeFamily()
)

func buildNodeFamily() []nodeMetric {
	var cpus []string
	for c := 0; c < 16; c++ {
		for _, m := range cpuModes {
			cpus = append(cpus, fmt.Sprintf("%d/%s", c, m))
		}
	}
	fam := []nodeMetric{{name: "node_cpu_seconds_total", label: "cpu/mode", values: cpus, counter: true}}
	for _, n := range []string{"node_network_receive_bytes_total", "node_network_transmit_bytes_total", "node_network_receive_packets_total", "node_network_transmit_packets_total"} {
		fam = append(fam, nodeMetric{name: n, label: "device", values: netDevices, counter: true})
	}
	for _, n := range []string{"node_disk_read_bytes_total", "node_disk_written_bytes_total", "node_disk_io_time_seconds_total", "node_disk_reads_completed_total", "node_disk_writes_completed_total"} {
		fam = append(fam, nodeMetric{name: n, label: "device", values: disks, counter: true})
	}
	for _, f := range memFields {
		fam = append(fam, nodeMetric{name: "node_memory_" + f})
	}
	for _, n := range []string{"node_load1", "node_load5", "node_load15", "node_procs_running", "node_context_switches_total", "node_intr_total", "node_forks_total"} {
		fam = append(fam, nodeMetric{name: n, counter: true})
	}
	return fam
}

// perNode is the number of series one node exports in this model.
var perNode = func() int {
	n := 0
	for _, m := range nodeFamily {
		n += max(1, len(m.values))
	}
	return n
}()

// nodeSeries returns the labels of node-exporter series i and how it grows:
// node i / perNode, metric and device by i % perNode. Gauges and counters
// alike grow by a fixed step, so every value changes every round.
func nodeSeries(dst []remotewrite.Label, i int) ([]remotewrite.Label, sampleVar) {
	node, k := i/perNode, i%perNode
	var m *nodeMetric
	for mi := range nodeFamily {
		n := max(1, len(nodeFamily[mi].values))
		if k < n {
			m = &nodeFamily[mi]
			break
		}
		k -= n
	}
	instance := fmt.Sprintf("10.%d.%d.%d:9100", 16+node/65536, node/256%256, node%256)
	dst = append(dst, remotewrite.Label{Name: "__name__", Value: m.name})
	var extra []remotewrite.Label
	switch m.label {
	case "cpu/mode":
		cpu, mode := splitSlash(m.values[k])
		dst = append(dst, remotewrite.Label{Name: "cpu", Value: cpu})
		extra = append(extra, remotewrite.Label{Name: "mode", Value: mode})
	case "device":
		dst = append(dst, remotewrite.Label{Name: "device", Value: m.values[k]})
	}
	dst = append(dst,
		remotewrite.Label{Name: "instance", Value: instance},
		remotewrite.Label{Name: "job", Value: "node-exporter"},
	)
	dst = append(dst, extra...)
	dst = append(dst,
		remotewrite.Label{Name: "namespace", Value: "monitoring"},
		remotewrite.Label{Name: "node", Value: fmt.Sprintf("worker-%05d", node)},
	)
	v := sampleVar{base: float64(1e6 + (i%9973)*1000), inc: float64(1 + i%97)}
	if !m.counter {
		v.inc = 0.5
	}
	return dst, v
}

func splitSlash(s string) (string, string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}
