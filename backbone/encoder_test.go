package backbone

import (
	"encoding/json"
	"testing"

	"github.com/llmrec/llmrec/nn"
	"github.com/stretchr/testify/require"
)

// The JSON of the default configurations as the string-typed fields wrote
// it before the enums (copied from a run of the previous commit): saved
// models must keep loading, and new ones must read the same.
var oldEncoderJSON = map[EncoderKind]string{
	KindSASRec:   `{"kind":"sasrec","dim":64,"max_len":50,"blocks":2,"heads":1,"inner":0,"dropout":0.5,"style":"tf","activation":"relu","ln_eps":1e-8}`,
	KindBERT4Rec: `{"kind":"bert4rec","dim":64,"max_len":50,"blocks":2,"heads":1,"inner":0,"dropout":0.2,"style":"postln","no_causal":true,"activation":"gelu","ln_eps":1e-8}`,
	KindGRU4Rec:  `{"kind":"gru4rec","dim":64,"max_len":50,"blocks":1,"heads":1,"inner":0,"dropout":0.2,"style":"tf","activation":"relu","ln_eps":1e-8}`,
}

func TestEncoderConfigJSONUnchanged(t *testing.T) {
	for kind, want := range oldEncoderJSON {
		cfg, err := DefaultEncoderConfig(kind)
		require.NoError(t, err)
		got, err := json.Marshal(cfg)
		require.NoError(t, err)
		require.JSONEq(t, want, string(got), kind)
		var back EncoderConfig
		require.NoError(t, json.Unmarshal([]byte(want), &back))
		require.Equal(t, cfg, back, kind)
	}
	// a model config names its loss now; one saved without it (BCE's zero
	// value was omitted) reads back as the BCE it was
	got, err := json.Marshal(ModelConfig{Task: TaskNext, NumNeg: 1, Loss: LossBCE})
	require.NoError(t, err)
	require.JSONEq(t, `{"task":"next","loss":"bce","num_neg":1}`, string(got))
	var mc ModelConfig
	require.NoError(t, json.Unmarshal([]byte(`{"task":"next","num_neg":1}`), &mc))
	require.Equal(t, ModelConfig{Task: TaskNext, NumNeg: 1, Loss: LossBCE}, mc)
	// old files may have "pre-ln", an empty style or no activation
	var c EncoderConfig
	require.NoError(t, json.Unmarshal([]byte(`{"kind":"sasrec","style":"pre-ln"}`), &c))
	require.Equal(t, nn.StylePreLN, c.Style)
	require.Equal(t, nn.ReLU, c.Activation)
	require.NoError(t, json.Unmarshal([]byte(`{"kind":"gru4rec","style":""}`), &c))
	require.Equal(t, nn.StyleTF, c.Style)
}

func TestUnknownEnumValuesAreErrors(t *testing.T) {
	_, err := DefaultEncoderConfig("sasrecc")
	require.ErrorIs(t, err, ErrUnknownKind)
	require.ErrorIs(t, err, ErrBadConfig)
	_, err = ParseEncoderKind("SASRec")
	require.ErrorIs(t, err, ErrUnknownKind)

	var c EncoderConfig
	err = json.Unmarshal([]byte(`{"kind":"sasrec","style":"postnorm"}`), &c)
	require.ErrorIs(t, err, ErrBadConfig)
	err = json.Unmarshal([]byte(`{"kind":"sasrec","activation":"swish"}`), &c)
	require.ErrorIs(t, err, ErrBadConfig)

	cfg, err := DefaultEncoderConfig(KindSASRec)
	require.NoError(t, err)
	bad := cfg
	bad.Style = nn.BlockStyle(7)
	_, err = NewSASRec(nil, bad)
	require.ErrorIs(t, err, ErrBadConfig)
	_, err = json.Marshal(bad)
	require.Error(t, err)
	bad = cfg
	bad.Activation = nn.Activation(9)
	_, err = NewSASRec(nil, bad)
	require.ErrorIs(t, err, ErrBadConfig)
	bad = cfg
	bad.Kind = "sasrecc"
	_, err = NewEncoder(nil, bad)
	require.ErrorIs(t, err, ErrUnknownKind)
	_, err = NewSASRec(nil, bad)
	require.ErrorIs(t, err, ErrBadConfig)
	bad = cfg
	bad.Dropout = -0.1
	_, err = NewSASRec(nil, bad)
	require.ErrorIs(t, err, ErrBadConfig)
	gcfg, err := DefaultEncoderConfig(KindGRU4Rec)
	require.NoError(t, err)
	gcfg.Kind = KindSASRec
	_, err = NewGRU4Rec(nil, gcfg)
	require.ErrorIs(t, err, ErrBadConfig)
}
