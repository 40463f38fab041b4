//go:build unix

package cache

import "golang.org/x/sys/unix"

// offHeap returns n zeroed bytes mapped outside the Go heap: the garbage
// collector neither scans them nor counts them toward its heap target, and
// pages never written take no memory. They must hold no Go pointers, and
// be released with freeOffHeap.
func offHeap(n int) []byte {
	b, err := unix.Mmap(-1, 0, max(n, 1), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n) // the heap, then
	}
	return b
}

func freeOffHeap(b []byte) {
	if len(b) > 0 {
		_ = unix.Munmap(b) // a heap slice (offHeap's fallback) fails with EINVAL: the GC frees it
	}
}

// offHeapHuge is offHeap, asking the kernel for huge pages (transparent
// huge pages in madvise mode): memory read at random, such as a large
// cache's, then misses the TLB far less. Pages come 2 MB at a time.
func offHeapHuge(n int) []byte {
	b := offHeap(n)
	if n >= 4<<20 {
		_ = unix.Madvise(b, unix.MADV_HUGEPAGE) // a hint: refused, the pages are small
	}
	return b
}
