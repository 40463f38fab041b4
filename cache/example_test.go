package cache_test

import (
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/kratosauth/kratosauth/cache"
)

func ExampleNewBigCache() {
	// A store for entries of at most a minute, using at most 64 MB; share it
	// between Authenticators with kratosauth.WithCache.
	store, err := cache.NewBigCache(time.Minute, 64)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	_ = store.Set("key", []byte("entry"), time.Minute)
	e, _ := store.Get("key")
	fmt.Println(string(e))

	_, err = store.Get("other")
	fmt.Println(errors.Is(err, cache.ErrNotFound))
	// Output:
	// entry
	// true
}
