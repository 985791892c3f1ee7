package remotewrite

import (
	"encoding/binary"
	"math"
)

// AppendWriteRequest appends the protobuf encoding of a WriteRequest holding
// series to dst and returns the extended buffer (see the schema in
// writerequest.go). It allocates only when dst must grow.
func AppendWriteRequest(dst []byte, series []TimeSeries) []byte {
	for i := range series {
		ts := &series[i]
		dst = appendTag(dst, 1, wireBytes)
		dst = appendVarint(dst, uint64(timeSeriesSize(ts)))
		for _, l := range ts.Labels {
			dst = appendTag(dst, 1, wireBytes)
			dst = appendVarint(dst, uint64(labelSize(l)))
			dst = appendString(dst, 1, l.Name)
			dst = appendString(dst, 2, l.Value)
		}
		for _, s := range ts.Samples {
			dst = appendTag(dst, 2, wireBytes)
			dst = appendVarint(dst, uint64(sampleSize(s)))
			dst = appendTag(dst, 1, wireFixed64)
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.Value))
			if s.Timestamp != 0 {
				dst = appendTag(dst, 2, wireVarint)
				dst = appendVarint(dst, uint64(s.Timestamp))
			}
		}
	}
	return dst
}

func appendString(dst []byte, field uint64, s string) []byte {
	if s == "" {
		return dst // proto3: empty strings are not encoded
	}
	dst = appendTag(dst, field, wireBytes)
	dst = appendVarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func stringSize(s string) int {
	if s == "" {
		return 0
	}
	return 1 + varintLen(uint64(len(s))) + len(s)
}

func labelSize(l Label) int { return stringSize(l.Name) + stringSize(l.Value) }

func sampleSize(s Sample) int {
	n := 1 + 8
	if s.Timestamp != 0 {
		n += 1 + varintLen(uint64(s.Timestamp))
	}
	return n
}

func timeSeriesSize(ts *TimeSeries) int {
	n := 0
	for _, l := range ts.Labels {
		m := labelSize(l)
		n += 1 + varintLen(uint64(m)) + m
	}
	for _, s := range ts.Samples {
		m := sampleSize(s)
		n += 1 + varintLen(uint64(m)) + m
	}
	return n
}
