package kratosauth_test

import (
	"log"
	"net/http"
	"os"

	"github.com/kratosauth/kratosauth"
)

// Kratos calls the hook after a password change or a recovery (docs/fleet.md,
// "Many replicas, one truth"); the identity's cached sessions are evicted.
func ExampleNewWebhookHandler() {
	auth, err := kratosauth.New("http://127.0.0.1:4433")
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	hook, err := kratosauth.NewWebhookHandler(auth,
		kratosauth.WebhookAPIKey("X-Kratos-Webhook-Key", os.Getenv("KRATOS_WEBHOOK_KEY")),
		// One process with the in-process cache; replicas share a store
		// (cache/redis) instead.
		kratosauth.WebhookSingleReplica())
	if err != nil {
		log.Fatal(err) // a missing or short key fails here, when the app starts
	}
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/kratos", hook)
}
