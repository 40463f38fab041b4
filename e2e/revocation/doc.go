// Package revocation is kratosauth's revocation explorer (tests only).
package revocation
