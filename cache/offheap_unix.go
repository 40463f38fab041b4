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
