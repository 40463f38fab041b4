package kratosjwt_test

import (
	"encoding/base64"
	"log/slog"
)

var discard = slog.New(slog.DiscardHandler)

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
