package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/llmrec/llmrec/align"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/eval"
	"github.com/llmrec/llmrec/tensor/safetensors"
)

// ckptMeta is written beside a checkpoint: what its training cost.
type ckptMeta struct {
	Seconds float64 `json:"train_seconds"`
}

// ckptPath names the checkpoint of one training run: the dataset, seed and
// stage in clear, then a hash of every setting that shapes that run and of
// the state of the seed's generator after the models were initialized (src),
// so a checkpoint is reused only where training would start from the same
// weights under the same settings.
func (e *env) ckptPath(stage string, seed uint64, src *rand.PCG) (string, error) {
	state, err := src.MarshalBinary()
	if err != nil {
		return "", err
	}
	o := e.o
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%s|loss=%s|std=%t|maxlen=%d|dim=%d|blocks=%d|heads=%d|drop=%g|batch=%d|lr=%g,%g|epochs=%d,%d|pat=%d|users=%d|proto=%s|gamma=%g|rows=%d|",
		e.dataset, filepath.Base(e.embPath), stage, backbone.DefaultObjective(e.modelConfig(), e.split.NumItems).Loss, o.standardize, o.maxLen, o.dim, o.blocks, o.heads, o.dropout, o.batch,
		o.lr1, o.lr2, o.epochs1, o.epochs2, o.patience, o.evalUsers, o.protocol, o.gamma, o.alignRows)
	h.Write(state)
	return filepath.Join(o.ckpt, fmt.Sprintf("%s-seed%d-%s-%016x.safetensors", e.dataset, seed, stage, h.Sum64())), nil
}

// trainOrLoad trains m like train and, with -ckpt, saves the model saved
// (whose parameters m trains) as stage's checkpoint; when that checkpoint
// already exists it copies its weights into saved instead of training and
// returns the recorded training seconds. stage "" never checkpoints.
func (e *env) trainOrLoad(ctx context.Context, stage string, src *rand.PCG, saved *backbone.SeqModel, name string, m backbone.Model, score func() (eval.Scorer, error), lr float64, epochs int, seed uint64) (float64, error) {
	if e.o.ckpt == "" || stage == "" {
		return e.train(ctx, name, m, score, lr, epochs, seed)
	}
	path, err := e.ckptPath(stage, seed, src)
	if err != nil {
		return 0, err
	}
	loaded, err := backbone.LoadWith(path, align.BuildTable)
	switch {
	case err == nil:
		if err := align.CopyParams(saved.Params(), loaded.Params()); err != nil {
			return 0, fmt.Errorf("%s: checkpoint %s: %w", name, path, err)
		}
		var meta ckptMeta
		if b, err := os.ReadFile(metaPath(path)); err == nil {
			if err := json.Unmarshal(b, &meta); err != nil {
				return 0, fmt.Errorf("%s: checkpoint %s: %w", name, metaPath(path), err)
			}
		}
		e.log.Info(name+" loaded", "checkpoint", filepath.Base(path), "train_seconds", fmt.Sprintf("%.0f", meta.Seconds))
		return meta.Seconds, nil
	case !errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	secs, err := e.train(ctx, name, m, score, lr, epochs, seed)
	// an interrupted run (also by -phase-timeout) is not a checkpoint
	if err != nil || ctx.Err() != nil || (e.o.phaseTimeout > 0 && secs >= e.o.phaseTimeout.Seconds()) {
		return secs, err
	}
	if err := os.MkdirAll(e.o.ckpt, 0o755); err != nil {
		return secs, err
	}
	if err := saved.Save(path); err != nil {
		return secs, err
	}
	b, err := json.Marshal(ckptMeta{Seconds: secs})
	if err != nil {
		return secs, err
	}
	return secs, safetensors.WriteFileAtomic(metaPath(path), func(w io.Writer) error { _, err := w.Write(b); return err })
}

// metaPath is the file of a checkpoint's ckptMeta.
func metaPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".train.json"
}

// copyExpert returns an independent copy of a trained tower for phase 3,
// with PAD's dropout restored on its text projection and fused table (a
// copy has none) and drawn from a generator of its own, so that phase 3
// does the same whether the tower was trained in this run or loaded.
func (e *env) copyExpert(m *backbone.SeqModel, seed, stream uint64) (*backbone.SeqModel, error) {
	c, err := align.CopyTower(m)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, stream))
	items := c.Items
	if f, ok := items.(*align.FusedTable); ok {
		f.Dropout, f.Rng = e.o.dropout, rand.New(rand.NewPCG(r.Uint64(), 4))
		items = f.Text()
	}
	if tp, ok := items.(*align.TextProjection); ok {
		tp.Dropout, tp.Rng = e.o.dropout, rand.New(rand.NewPCG(r.Uint64(), 3))
	}
	return c, nil
}
