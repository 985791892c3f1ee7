// Package prefetch asks the CPU to bring a cache line in without waiting
// for it.
//
// The SLI path looks up tables of a hundred thousand series and more
// (remotewrite's known label fields, the engine's series by raw key):
// lookups that miss the cache one after another, each waiting for memory.
// A plain load of the line ahead of time does not help: a load that
// misses holds up everything after it once the CPU's window of
// instructions is full. A prefetch instruction does not; the line is in
// the cache when the lookup comes a few series later.
package prefetch
