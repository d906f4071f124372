package safetensors

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNumElements(t *testing.T) {
	f, err := ReadBytes(handFile(`{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"i":{"dtype":"I64","shape":[1],"data_offsets":[4,12]}}`, make([]byte, 12)))
	require.NoError(t, err)
	assert.Equal(t, int64(3), f.NumElements())
}
