package redistest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServer(t *testing.T) {
	s := Start(t)
	_, err := s.Do("SET", "k", "v\r\nwith a line break")
	require.NoError(t, err)
	v, err := s.Do("GET", "k")
	require.NoError(t, err)
	assert.Equal(t, "v\r\nwith a line break", v)
	mem, err := s.Info("used_memory")
	require.NoError(t, err)
	assert.NotEmpty(t, mem)

	s.Kill()
	_, err = s.Do("PING")
	require.Error(t, err, "killed")
	s.Restart(t)
	v, err = s.Do("GET", "k")
	require.NoError(t, err)
	assert.Empty(t, v, "nothing persisted")
	_, err = s.Do("NOSUCHCOMMAND")
	assert.Error(t, err)
}

func TestCluster(t *testing.T) {
	nodes := StartCluster(t, 3)
	// A key is served by the node of its slot, and moved elsewhere.
	var moved int
	for _, n := range nodes {
		if _, err := n.Do("SET", "some-key", "v"); err != nil {
			require.Contains(t, err.Error(), "MOVED")
			moved++
		}
	}
	assert.Equal(t, 2, moved)
}
