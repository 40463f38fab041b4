package rediscache

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

const (
	// DefaultPrefix starts every key the Store writes.
	DefaultPrefix = "kratosauth:"
	// DefaultTimeout bounds each call to Redis; past it the call is a
	// cache miss and kratosauth asks Kratos.
	DefaultTimeout = 100 * time.Millisecond
	// DefaultLocalCacheMB is the memory of the client-side cache, per Redis node.
	DefaultLocalCacheMB = 64
	// DefaultMaxIndexKeys bounds the sessions indexed for one identity.
	DefaultMaxIndexKeys = 10000
	// DefaultBreakerFailures is how many failed calls in a row open the
	// circuit breaker.
	DefaultBreakerFailures = 3
)

// Option configures a Store. Options are applied, and validated, by New.
type Option func(*config) error

type config struct {
	prefix        string
	timeout       time.Duration
	localCacheMB  int
	maxIndexKeys  int
	failures      int
	logger        *slog.Logger
	clientOptions []func(*rueidis.ClientOption)
}

// WithPrefix sets the prefix of every key, to share a Redis with other
// data or between apps. kratosauth's keys are already namespaced by Kratos
// URL and cookie name, so one prefix can serve several Authenticators.
// Default: DefaultPrefix ("kratosauth:").
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		if prefix == "" {
			return errors.New("rediscache: WithPrefix: empty prefix (keys would mix with other data)")
		}
		c.prefix = prefix
		return nil
	}
}

// WithTimeout bounds each call to Redis. A slow Redis must cost a request
// less than asking Kratos, so keep it short. Default: DefaultTimeout (100 ms).
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("rediscache: WithTimeout: duration must be positive, got %s", d)
		}
		c.timeout = d
		return nil
	}
}

// WithLocalCacheMB sets the memory of the client-side cache (per Redis
// node; Redis tracks what it holds and invalidates it when any client
// writes a key). 0 turns it off: every Get is a round trip to Redis.
// Default: DefaultLocalCacheMB (64).
func WithLocalCacheMB(mb int) Option {
	return func(c *config) error {
		if mb < 0 {
			return fmt.Errorf("rediscache: WithLocalCacheMB: negative size %d", mb)
		}
		c.localCacheMB = mb
		return nil
	}
}

// WithMaxIndexKeys bounds the sessions indexed for one identity; past it,
// AddToIndex fails with cache.ErrIndexFull and kratosauth does not cache
// the identity's new sessions until some expire. Default:
// DefaultMaxIndexKeys (10,000).
func WithMaxIndexKeys(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("rediscache: WithMaxIndexKeys: must be positive, got %d", n)
		}
		c.maxIndexKeys = n
		return nil
	}
}

// WithBreakerFailures sets how many failed calls in a row open the circuit
// breaker. Default: DefaultBreakerFailures (3).
func WithBreakerFailures(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("rediscache: WithBreakerFailures: must be positive, got %d", n)
		}
		c.failures = n
		return nil
	}
}

// WithLogger sets the logger for the breaker's transitions: Redis
// unavailable (WARN), reachable again (INFO). Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("rediscache: WithLogger: nil logger (slog.New(slog.DiscardHandler) discards logs)")
		}
		c.logger = l
		return nil
	}
}

// WithClientOption changes the rueidis client's options after the Store
// set its own (TLS configuration, credentials provider, dialer, Sentinel):
// f may undo what the Store relies on, such as its timeouts. Default: none.
func WithClientOption(f func(*rueidis.ClientOption)) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("rediscache: WithClientOption: nil function")
		}
		c.clientOptions = append(c.clientOptions, f)
		return nil
	}
}

// redactURL keeps a password in the URL out of an error message.
func redactURL(err error, raw string) error {
	u, perr := url.Parse(raw)
	if perr != nil || u.User == nil {
		return err
	}
	if pw, ok := u.User.Password(); ok && pw != "" && strings.Contains(err.Error(), pw) {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
	}
	return err
}
