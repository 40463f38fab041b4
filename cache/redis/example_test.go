package rediscache_test

import (
	"log"
	"os"

	"github.com/kratosauth/kratosauth"
	rediscache "github.com/kratosauth/kratosauth/cache/redis"
)

// Every replica of the app builds its Authenticator on the same Redis.
func ExampleNew() {
	store, err := rediscache.New(os.Getenv("REDIS_URL")) // e.g. redis://127.0.0.1:6379/0
	if err != nil {
		log.Fatal(err) // a malformed URL or option; Redis being down is not an error
	}
	defer store.Close() // after the Authenticator's Close
	auth, err := kratosauth.New("http://127.0.0.1:4433", kratosauth.WithCache(store))
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
}
