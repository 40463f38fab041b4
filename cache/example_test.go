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

	// kratosauth takes a ticket before it asks Kratos, and caches the
	// answer under it, unless the key was revoked meanwhile.
	ticket, _ := store.Begin("key")
	fmt.Println(store.Put("key", []byte("entry"), time.Minute, ticket, 5*time.Second))
	e, _ := store.Get("key")
	fmt.Println(string(e))

	late, _ := store.Begin("other")
	_ = store.Revoke("other", []byte("logout"), time.Minute, time.Minute) // a logout lands first
	err = store.Put("other", []byte("answer from before the logout"), time.Minute, late, 5*time.Second)
	fmt.Println(errors.Is(err, cache.ErrFenced))
	// Output:
	// <nil>
	// entry
	// true
}
