package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/llmrec/llmrec/align"
	"github.com/llmrec/llmrec/backbone"
	"github.com/llmrec/llmrec/eval"
	"github.com/llmrec/llmrec/examples/internal/stats"
	"github.com/llmrec/llmrec/moe"
	"github.com/llmrec/llmrec/nn"
	"github.com/llmrec/llmrec/recpca"
)

// encoderConfig is PAD's SASRec shape at CPU size.
func (e *env) encoderConfig() backbone.EncoderConfig {
	return backbone.EncoderConfig{Kind: backbone.KindSASRec,
		Dim: e.o.dim, MaxLen: e.o.maxLen, Blocks: e.o.blocks, Heads: e.o.heads, Dropout: e.o.dropout,
		Style: nn.StylePostLN, OutProj: true, Inner: 4 * e.o.dim, Activation: nn.ReLU, LNEps: 1e-5,
		Threads: e.o.threads}
}

func (e *env) newEncoder(r *rand.Rand) (backbone.Encoder, error) {
	return backbone.NewEncoder(r, e.encoderConfig())
}

// newText returns PAD's f_t (Linear D→d, GELU, 4 × [Dropout, Linear, GELU]).
func (e *env) newText(r *rand.Rand) (*align.TextProjection, error) {
	tp, err := align.NewTextProjection(r, e.llm, e.o.dim, 4, e.o.dropout)
	if err != nil {
		return nil, err
	}
	tp.Rng = rand.New(rand.NewPCG(r.Uint64(), 3))
	return tp, nil
}

// modelConfig is the towers' objective (-loss; gbce with 256 negatives).
func (e *env) modelConfig() backbone.ModelConfig {
	l, _ := backbone.ParseLoss(e.o.loss) // checked in parse
	mc := backbone.ModelConfig{Loss: l}
	if l == backbone.LossGBCE {
		mc.NumNeg = min(256, e.split.NumItems-1)
	}
	return mc
}

// mixtureLoss is phase 3's objective: -loss where the mixture has it (ce,
// bce), the mixture's default (cross-entropy on these catalogs) for the
// library's default, and BCE, PAD's, for gbce and sampled, which the mixture
// does not have.
func (e *env) mixtureLoss() backbone.Loss {
	switch l, _ := backbone.ParseLoss(e.o.loss); l {
	case backbone.LossDefault, backbone.LossCrossEntropy, backbone.LossBCE:
		return l
	}
	return backbone.LossBCE
}

// tfllmerTable is TF-LLMER's item table from the LLM rows: Rec-PCA to d of
// the L2-normalized rows (λ chosen to keep 90% of PCA's retained variance,
// over the window-1 co-occurrence graph of the training sequences, as
// examples/tfllmer's defaults), a trainable ID table initialized from the
// reduced rows and kept L2-normalized.
func (e *env) tfllmerTable(seed uint64) (backbone.ItemTable, error) {
	g, err := recpca.BuildGraph(e.split.Train, e.split.NumItems, recpca.GraphOptions{Window: 1})
	if err != nil {
		return nil, fmt.Errorf("pad_tfllmer: co-occurrence graph: %w", err)
	}
	opt := recpca.Options{Dim: e.o.dim, NormalizeInput: true, TargetVariance: 0.9, Seed: seed}
	p, err := recpca.Fit(e.llm, g, opt)
	if err != nil { // a tiny catalog may not lose 10% at any λ: take the largest
		e.log.Info("pad_tfllmer: rec-pca target variance not reached; using λ = 1", "err", err)
		opt.TargetVariance, opt.Lambda, opt.Rand = 0, 1, rand.New(rand.NewPCG(seed, 3))
		p, err = recpca.Fit(e.llm, g, opt)
	}
	if err != nil {
		return nil, fmt.Errorf("pad_tfllmer: rec-pca: %w", err)
	}
	id, err := backbone.NewIDTableFrom(p.Transform(nil, e.llm, false))
	if err != nil {
		return nil, err
	}
	return backbone.NewNormalizedTable(id, 1, false), nil
}

// train trains m with early stopping on valid HR@10 of the scorer that
// score builds (nil: exactly epochs epochs), and returns the training
// seconds.
func (e *env) train(ctx context.Context, name string, m backbone.Model, score func() (eval.Scorer, error), lr float64, epochs int, seed uint64) (float64, error) {
	opt := backbone.TrainOptions{Metric: "hr@10"}
	if score == nil { // a fixed number of epochs, the last weights kept
		opt.KeepLast = true
	} else {
		opt.Validate = func(context.Context, int) (map[string]float64, error) { return e.validate(score, false) }
	}
	h, secs, err := e.trainOpt(ctx, name, m, lr, epochs, seed, opt)
	if h != nil {
		e.log.Info(name+" done", "epochs", len(h.Epochs), "best_epoch", h.BestEpoch, "stop", h.StopReason, "seconds", fmt.Sprintf("%.0f", secs))
	}
	return secs, err
}

// trainOpt runs backbone.Train with the run's settings and opt, logging
// every epoch's loss and validation metrics under name. A -phase-timeout
// is not an error.
func (e *env) trainOpt(ctx context.Context, name string, m backbone.Model, lr float64, epochs int, seed uint64, opt backbone.TrainOptions) (*backbone.History, float64, error) {
	cfg := backbone.DefaultTrainConfig()
	cfg.Epochs, cfg.BatchSize, cfg.LR, cfg.Patience, cfg.Seed = epochs, e.o.batch, lr, e.o.patience, seed
	if e.o.phaseTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.o.phaseTimeout)
		defer cancel()
	}
	t0 := time.Now()
	opt.OnEpoch = func(s backbone.EpochStats) {
		attrs := []any{"epoch", s.Epoch, "loss", fmt.Sprintf("%.4f", s.Loss), "train_s", fmt.Sprintf("%.1f", s.Seconds)}
		if len(s.Metrics) > 0 { // no validation: nothing to report
			attrs = append(attrs, "valid_hr@10", fmt.Sprintf("%.4f", s.Metrics["hr@10"]), "valid_ndcg@10", fmt.Sprintf("%.4f", s.Metrics["ndcg@10"]),
				"valid_cold_ndcg@10", fmt.Sprintf("%.5f", s.Metrics["cold_ndcg@10"]), "best", s.Improved)
		}
		e.log.Info(name, attrs...)
	}
	h, err := backbone.Train(ctx, m, e.split.Train, cfg, opt)
	secs := time.Since(t0).Seconds()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return h, secs, fmt.Errorf("%s: %w", name, err)
	}
	return h, secs, nil
}

// validate evaluates the scorer that score builds on validation: overall
// HR@10 and NDCG@10 and cold-bin NDCG@10 on -eval-users users; with cold,
// cold_ndcg@10 is taken on -cold-eval-users users instead.
func (e *env) validate(score func() (eval.Scorer, error), cold bool) (map[string]float64, error) {
	s, err := score()
	if err != nil {
		return nil, err
	}
	r, err := e.valid.Evaluate(context.Background(), s, eval.Valid)
	if err != nil {
		return nil, err
	}
	res := e.split3(r)
	met := map[string]float64{"hr@10": res.hr, "ndcg@10": res.ndcg, "cold_ndcg@10": res.coldNDCG}
	if cold && e.coldValid != e.valid {
		if r, err = e.coldValid.Evaluate(context.Background(), s, eval.Valid); err != nil {
			return nil, err
		}
		met["cold_ndcg@10"] = e.split3(r).coldNDCG
	}
	return met, nil
}

func seqScorer(m *backbone.SeqModel) func() (eval.Scorer, error) {
	return func() (eval.Scorer, error) { return backbone.NewRecommender(m), nil }
}

// result is one test evaluation.
type result struct {
	ndcg, hr, coldNDCG, warmNDCG, coldHR, warmHR float64
	bins                                         []float64
}

// testEval evaluates s on the test stage: overall, per bin, cold (the two
// least popular bins) and warm (the others), pooled over cases.
func (e *env) testEval(s eval.Scorer) (result, error) {
	r, err := e.test.Evaluate(context.Background(), s, eval.Test)
	if err != nil {
		return result{}, err
	}
	return e.split3(r), nil
}

// split3 reads overall, per-bin, cold and warm metrics from a result whose
// first grouping is the popularity bins.
func (e *env) split3(r *eval.Result) result {
	var out result
	out.ndcg, _ = r.Overall.Get("ndcg@10")
	out.hr, _ = r.Overall.Get("hr@10")
	var cn, ch, wn, wh float64
	var cc, wc int
	for _, b := range r.Groups[0].Buckets {
		nd, _ := b.Get("ndcg@10")
		hr, _ := b.Get("hr@10")
		out.bins = append(out.bins, nd)
		bin := 0
		fmt.Sscan(b.Label, &bin)
		if bin > e.o.bins-2 {
			cn += nd * float64(b.Count)
			ch += hr * float64(b.Count)
			cc += b.Count
		} else {
			wn += nd * float64(b.Count)
			wh += hr * float64(b.Count)
			wc += b.Count
		}
	}
	if cc > 0 {
		out.coldNDCG, out.coldHR = cn/float64(cc), ch/float64(cc)
	}
	if wc > 0 {
		out.warmNDCG, out.warmHR = wn/float64(wc), wh/float64(wc)
	}
	return out
}

func (s *summary) add(name string, r result, secs float64) {
	v, ok := s.Variants[name]
	if !ok {
		v = &series{}
		s.Variants[name] = v
		s.order = append(s.order, name)
	}
	v.NDCG = append(v.NDCG, r.ndcg)
	v.HR = append(v.HR, r.hr)
	v.ColdNDCG = append(v.ColdNDCG, r.coldNDCG)
	v.WarmNDCG = append(v.WarmNDCG, r.warmNDCG)
	v.ColdHR = append(v.ColdHR, r.coldHR)
	v.WarmHR = append(v.WarmHR, r.warmHR)
	v.Bins = append(v.Bins, r.bins)
	s.Seconds[name] = append(s.Seconds[name], secs)
}

// alignTower runs phase 2 from the pre-trained tower pre with loss. When
// anchored, it trains a copy (PAD); otherwise it trains pre itself. With
// alignOnly the recommendation loss is dropped (the control without the
// anchor of L_rec) and it trains exactly -epochs2 epochs. It
// returns the aligned model (encoder over the fused table) and the tower
// whose encoder and ID table were trained. A non-empty stage checkpoints
// the run (see trainOrLoad; src is the generator behind r).
func (e *env) alignTower(ctx context.Context, stage, name string, pre *backbone.SeqModel, loss align.Loss, anchored, alignOnly bool, src *rand.PCG, r *rand.Rand, seed uint64) (*backbone.SeqModel, *backbone.SeqModel, float64, error) {
	tower := pre
	if anchored {
		var err error
		if tower, err = align.CopyTower(pre); err != nil {
			return nil, nil, 0, err
		}
	}
	tp, err := e.newText(r)
	if err != nil {
		return nil, nil, 0, err
	}
	fused, err := align.NewFusedTable(r, tower.Items, tp, e.o.dim, e.o.dropout)
	if err != nil {
		return nil, nil, 0, err
	}
	fused.Rng = rand.New(rand.NewPCG(seed, 4))
	rec, err := backbone.NewSeqModel(tower.Enc, fused, e.modelConfig())
	if err != nil {
		return nil, nil, 0, err
	}
	a, err := align.NewAnchored(rec, tp, tower.Items, loss, e.o.gamma)
	if err != nil {
		return nil, nil, 0, err
	}
	a.MaxRows, a.AlignOnly = e.o.alignRows, alignOnly
	score := seqScorer(rec)
	if alignOnly { // nothing trains the fused model: no early stopping on it
		score = nil
	}
	secs, err := e.trainOrLoad(ctx, stage, src, rec, name, a, score, e.o.lr2, e.o.epochs2, seed)
	return rec, tower, secs, err
}

// idOnly returns the ID-only scorers of a tower trained in phase 2: its
// encoder over its raw ID table and over the fused table's ID view.
func idOnly(rec, tower *backbone.SeqModel) (raw, view eval.Scorer, err error) {
	m1, err := backbone.NewSeqModel(tower.Enc, tower.Items, backbone.ModelConfig{})
	if err != nil {
		return nil, nil, err
	}
	m2, err := backbone.NewSeqModel(tower.Enc, rec.Items.(*align.FusedTable).IDView(), backbone.ModelConfig{})
	if err != nil {
		return nil, nil, err
	}
	return backbone.NewRecommender(m1), backbone.NewRecommender(m2), nil
}

// mixture runs phase 3: the ID expert (a copy of idTower), the aligned
// expert (a copy of aligned, see copyExpert) and the text expert, mixed by
// PAD's frequency gate, trained with early stopping on every -select3
// validation metric (trainSelect). The text expert is fresh (PAD) when text
// is nil, else a copy of the trained text-only tower text (mix_texttower,
// not PAD).
func (e *env) mixture(ctx context.Context, name string, idTower, aligned, text *backbone.SeqModel, textTable backbone.ItemTable, r *rand.Rand, seed uint64) (*moe.Mixture, []*selection, float64, error) {
	id, err := align.CopyTower(idTower)
	if err != nil {
		return nil, nil, 0, err
	}
	if aligned, err = e.copyExpert(aligned, seed, 5); err != nil {
		return nil, nil, 0, err
	}
	var enc3 backbone.Encoder
	var tp backbone.ItemTable
	switch {
	case textTable != nil: // pad_tfllmer: a fresh encoder over the given table
		if enc3, err = e.newEncoder(r); err != nil {
			return nil, nil, 0, err
		}
		tp = textTable
	case text == nil:
		t, err := e.newText(r)
		if err != nil {
			return nil, nil, 0, err
		}
		if enc3, err = e.newEncoder(r); err != nil {
			return nil, nil, 0, err
		}
		tp = t
	default:
		c, err := e.copyExpert(text, seed, 6)
		if err != nil {
			return nil, nil, 0, err
		}
		enc3, tp = c.Enc, c.Items
	}
	gate, err := moe.NewFreqGate(e.bins, moe.PADInit(e.o.bins, moe.PADGamma2))
	if err != nil {
		return nil, nil, 0, err
	}
	m, err := moe.NewMixture([]moe.Expert{
		{Name: "id", Enc: id.Enc, Items: id.Items},
		{Name: "aligned", Enc: aligned.Enc, Items: aligned.Items},
		{Name: "text", Enc: enc3, Items: tp},
	}, gate, 1)
	if err != nil {
		return nil, nil, 0, err
	}
	m.Loss = e.mixtureLoss()
	score := func() (eval.Scorer, error) { return m.NewRecommender() }
	sels, secs, err := e.trainSelect(ctx, name, m, score, e.o.lr3, e.o.epochs3, seed)
	return m, sels, secs, err
}

func (e *env) record(sum *summary, name string, s eval.Scorer, secs float64) error {
	r, err := e.testEval(s)
	if err != nil {
		return err
	}
	sum.add(name, r, secs)
	e.log.Info("test", "variant", name, "ndcg@10", fmt.Sprintf("%.4f", r.ndcg), "hr@10", fmt.Sprintf("%.4f", r.hr),
		"cold_ndcg@10", fmt.Sprintf("%.4f", r.coldNDCG), "warm_ndcg@10", fmt.Sprintf("%.4f", r.warmNDCG))
	return nil
}

// phase3 runs the mixture variant base (see mixture), records the weights
// of each -select3 metric on test as base+suffix (s2: phase 2's seconds;
// the training seconds are those of the joint run) and, when out is set,
// saves the first one there.
func (e *env) phase3(ctx context.Context, sum *summary, base string, seed uint64, idTower, aligned, text *backbone.SeqModel, textTable backbone.ItemTable, s2 float64, r *rand.Rand, out string) error {
	m, sels, s3, err := e.mixture(ctx, fmt.Sprintf("seed %d phase 3 (%s)", seed, base), idTower, aligned, text, textTable, r, seed)
	if err != nil {
		return err
	}
	params := trainable(m.Params())
	for i, sel := range sels {
		name := base + sel.suffix()
		restore(params, sel.weights)
		sum.Selection[name] = append(sum.Selection[name], sel.String())
		s, err := m.NewRecommender()
		if err != nil {
			return err
		}
		if err := e.record(sum, name, s, s2+s3); err != nil {
			return err
		}
		if i > 0 || out == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		if err := m.Save(out); err != nil {
			return err
		}
		fmt.Fprintf(e.out, "# saved the full PAD mixture of seed %d (%s) to %s\n", seed, name, out)
	}
	return nil
}

func (e *env) runSeed(ctx context.Context, seed uint64, first bool, want map[string]bool, sum *summary) error {
	src := rand.NewPCG(seed, 0x9ad)
	s := &seedRun{e: e, sum: sum, seed: seed, src: src, r: rand.New(src),
		mmd: align.MKMMD{Estimator: align.UnbiasedOffset},
		nce: align.InfoNCE{Temperature: align.DefaultTemperature, Cosine: true}}
	if err := s.idTower(ctx); err != nil {
		return err
	}
	if want["text"] || want["mix_texttower"] {
		if err := s.textTower(ctx); err != nil {
			return err
		}
	}
	if want["pad"] || want["pad_nomix"] || want["mix_texttower"] || want["pad_tfllmer"] {
		if err := s.fullPAD(ctx, first, want); err != nil {
			return err
		}
	}
	return s.ablations(ctx, want)
}

// seedRun is one seed's variants: the seed's generator (shared by the
// phases in run order), the pretrained ID tower every variant starts
// from, and the text tower.
type seedRun struct {
	e    *env
	sum  *summary
	seed uint64
	src  *rand.PCG
	r    *rand.Rand
	// pre is the phase-1 ID tower; preRes its recorded results.
	pre    *backbone.SeqModel
	preRes *series
	// text is the text-only tower (nil unless asked).
	text *backbone.SeqModel
	mmd  align.MKMMD
	nce  align.InfoNCE
}

// idTower trains (or loads) phase 1, the ID tower, and records it as "id".
func (s *seedRun) idTower(ctx context.Context) error {
	e := s.e
	enc, err := e.newEncoder(s.r)
	if err != nil {
		return err
	}
	pre, err := backbone.NewSeqModel(enc, backbone.NewIDTable(s.r, e.split.NumItems, e.o.dim), e.modelConfig())
	if err != nil {
		return err
	}
	secs, err := e.trainOrLoad(ctx, "phase1", s.src, pre, fmt.Sprintf("seed %d phase 1 (id)", s.seed), pre, seqScorer(pre), e.o.lr1, e.o.epochs1, s.seed)
	if err != nil {
		return err
	}
	if err := e.record(s.sum, "id", backbone.NewRecommender(pre), secs); err != nil {
		return err
	}
	s.pre, s.preRes = pre, s.sum.Variants["id"]
	s.sum.Forgetting["pretrained"] = append(s.sum.Forgetting["pretrained"], s.preRes.NDCG[len(s.preRes.NDCG)-1])
	return nil
}

// textTower trains (or loads) the text-only tower and records it as
// "text"; mix_texttower starts its text expert from it. It has a generator
// of its own, so that the later phases start the same with or without it
// (and their checkpoints are shared).
func (s *seedRun) textTower(ctx context.Context) error {
	e := s.e
	tsrc := rand.NewPCG(s.seed, 0x7e7)
	tr := rand.New(tsrc)
	tp, err := e.newText(tr)
	if err != nil {
		return err
	}
	enc, err := e.newEncoder(tr)
	if err != nil {
		return err
	}
	tm, err := backbone.NewSeqModel(enc, tp, e.modelConfig())
	if err != nil {
		return err
	}
	secs, err := e.trainOrLoad(ctx, "text", tsrc, tm, fmt.Sprintf("seed %d text", s.seed), tm, seqScorer(tm), e.o.lr1, e.o.epochs1, s.seed)
	if err != nil {
		return err
	}
	s.text = tm
	return e.record(s.sum, "text", backbone.NewRecommender(tm), secs)
}

// forget records how much of the ID-only ranking an aligned model rec
// (and its tower) kept: its ID view, raw and through the tower, tested
// beside the pretrained tower's.
func (s *seedRun) forget(key string, rec, tower *backbone.SeqModel) error {
	raw, view, err := idOnly(rec, tower)
	if err != nil {
		return err
	}
	for k, sc := range map[string]eval.Scorer{key: raw, key + "_idview": view} {
		res, err := s.e.testEval(sc)
		if err != nil {
			return err
		}
		s.sum.Forgetting[k] = append(s.sum.Forgetting[k], res.ndcg)
		s.e.log.Info("forgetting", "what", k, "id_only_ndcg@10", fmt.Sprintf("%.4f", res.ndcg), "pretrained", fmt.Sprintf("%.4f", s.preRes.NDCG[len(s.preRes.NDCG)-1]))
	}
	return nil
}

// fullPAD runs phase 2 (anchored MK-MMD, recorded as pad_nomix) and the
// phase-3 mixtures built on it that want asks for: pad (saved with -out for
// the first seed), mix_texttower and pad_tfllmer.
func (s *seedRun) fullPAD(ctx context.Context, first bool, want map[string]bool) error {
	e, seed, pre, r := s.e, s.seed, s.pre, s.r
	rec, tower, s2, err := e.alignTower(ctx, "phase2", fmt.Sprintf("seed %d phase 2 (mk-mmd, anchored)", seed), pre, s.mmd, true, false, s.src, r, seed)
	if err != nil {
		return err
	}
	if err := s.forget("mkmmd", rec, tower); err != nil {
		return err
	}
	if err := e.record(s.sum, "pad_nomix", backbone.NewRecommender(rec), s2); err != nil {
		return err
	}
	if want["pad"] {
		out := ""
		if first {
			out = e.o.out
		}
		if err := e.phase3(ctx, s.sum, "pad", seed, pre, rec, nil, nil, s2, r, out); err != nil {
			return err
		}
	}
	if want["mix_texttower"] {
		if err := e.phase3(ctx, s.sum, "mix_texttower", seed, pre, rec, s.text, nil, s2, r, ""); err != nil {
			return err
		}
	}
	if want["pad_tfllmer"] {
		tf, err := e.tfllmerTable(seed)
		if err != nil {
			return err
		}
		if err := e.phase3(ctx, s.sum, "pad_tfllmer", seed, pre, rec, nil, tf, s2, r, ""); err != nil {
			return err
		}
	}
	return nil
}

// ablations runs the variants that change one part of PAD: InfoNCE for
// MK-MMD, no anchor, and the forgetting controls (unanchored InfoNCE, and
// a copy aligned by the alignment loss alone, align.Anchored.AlignOnly,
// for -epochs2 epochs).
func (s *seedRun) ablations(ctx context.Context, want map[string]bool) error {
	e, seed, pre, r := s.e, s.seed, s.pre, s.r
	if want["pad_infonce"] {
		rec, _, s2, err := e.alignTower(ctx, "", fmt.Sprintf("seed %d phase 2 (infonce, anchored)", seed), pre, s.nce, true, false, s.src, r, seed)
		if err != nil {
			return err
		}
		if err := e.phase3(ctx, s.sum, "pad_infonce", seed, pre, rec, nil, nil, s2, r, ""); err != nil {
			return err
		}
	}
	if want["pad_noanchor"] {
		// the "original" ID tower is aligned itself; the ID expert is then
		// that modified tower
		orig, err := align.CopyTower(pre)
		if err != nil {
			return err
		}
		rec, tower, s2, err := e.alignTower(ctx, "", fmt.Sprintf("seed %d phase 2 (mk-mmd, unanchored)", seed), orig, s.mmd, false, false, s.src, r, seed)
		if err != nil {
			return err
		}
		if err := s.forget("mkmmd_unanchored", rec, tower); err != nil {
			return err
		}
		if err := e.phase3(ctx, s.sum, "pad_noanchor", seed, tower, rec, nil, nil, s2, r, ""); err != nil {
			return err
		}
	}
	if want["forgetting_infonce"] {
		orig, err := align.CopyTower(pre)
		if err != nil {
			return err
		}
		rec, tower, _, err := e.alignTower(ctx, "", fmt.Sprintf("seed %d phase 2 (infonce, unanchored)", seed), orig, s.nce, false, false, s.src, r, seed)
		if err != nil {
			return err
		}
		if err := s.forget("infonce", rec, tower); err != nil {
			return err
		}
	}
	if want["forgetting_norec"] {
		for _, c := range []struct {
			key  string
			loss align.Loss
		}{{"mkmmd_norec", s.mmd}, {"infonce_norec", s.nce}} {
			rec, tower, _, err := e.alignTower(ctx, "", fmt.Sprintf("seed %d phase 2 (%s)", seed, c.key), pre, c.loss, true, true, s.src, r, seed)
			if err != nil {
				return err
			}
			if err := s.forget(c.key, rec, tower); err != nil {
				return err
			}
		}
	}
	return nil
}

func printTable(w io.Writer, s *summary) {
	fmt.Fprintf(w, "\n# %s, test, full ranking with history masked; mean ± std over seeds (sample std)\n", s.Dataset)
	fmt.Fprintf(w, "%-14s %-17s %-17s %-17s %-17s %-17s %-17s\n", "variant", "HR@10", "NDCG@10", "cold HR@10", "cold NDCG@10", "warm HR@10", "warm NDCG@10")
	for _, name := range s.order {
		v := s.Variants[name]
		cells := []string{}
		for _, x := range [][]float64{v.HR, v.NDCG, v.ColdHR, v.ColdNDCG, v.WarmHR, v.WarmNDCG} {
			cells = append(cells, stats.PM(x, 4))
		}
		fmt.Fprintf(w, "%-14s %s\n", name, strings.Join(cells, " "))
	}
	fmt.Fprintf(w, "\n# NDCG@10 per popularity bin (1 = most popular), mean over seeds\n%-14s", "variant")
	nb := 0
	for _, name := range s.order {
		if b := s.Variants[name].Bins; len(b) > 0 {
			nb = max(nb, len(b[0]))
		}
	}
	for b := 1; b <= nb; b++ {
		fmt.Fprintf(w, " %7s", fmt.Sprintf("bin%d", b))
	}
	fmt.Fprintln(w)
	for _, name := range s.order {
		v := s.Variants[name]
		fmt.Fprintf(w, "%-14s", name)
		for b := range nb {
			var col []float64
			for _, row := range v.Bins {
				if b < len(row) {
					col = append(col, row[b])
				}
			}
			fmt.Fprintf(w, " %7.4f", stats.Mean(col))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n# forgetting: ID-only test NDCG@10 of the tower after phase 2 vs the pre-trained tower (relative change)\n")
	pm := stats.Mean(s.Forgetting["pretrained"])
	keys := make([]string, 0, len(s.Forgetting))
	for k := range s.Forgetting {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pre := s.Forgetting["pretrained"]
	for _, k := range keys {
		m, sd := stats.Mean(s.Forgetting[k]), stats.Std(s.Forgetting[k])
		// paired: the relative change of each seed against its own
		// pre-trained tower (same test users), then mean ± std over seeds
		var rel []float64
		for i, v := range s.Forgetting[k] {
			if i < len(pre) && pre[i] > 0 {
				rel = append(rel, 100*(v-pre[i])/pre[i])
			}
		}
		fmt.Fprintf(w, "%-26s %.4f ± %.4f  (of means %+.1f%%; paired per seed %+.1f%% ± %.1f%%)\n", k, m, sd, 100*(m-pm)/pm, stats.Mean(rel), stats.Std(rel))
	}
}

// serveCheck loads a saved mixture the way examples/serve does
// (moe.LoadRecommender: a backbone.Recommender, the type that serves a
// SeqModel), evaluates it on test like the trained one and prints the top
// 10 of the first user through that Recommender.
func (e *env) serveCheck(path string) error {
	isMoE, err := moe.IsCheckpoint(path)
	if err != nil {
		return err
	}
	if !isMoE {
		return fmt.Errorf("%s is not a mixture saved by -out (want format %q)", path, moe.SavedFormat)
	}
	var rec *backbone.Recommender
	rec, err = moe.LoadRecommender(path)
	if err != nil {
		return err
	}
	if rec.NumItems() != e.split.NumItems {
		return fmt.Errorf("%s has %d items, the dataset %d", path, rec.NumItems(), e.split.NumItems)
	}
	r, err := e.testEval(rec)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.out, "# loaded %s: test ndcg@10 %.6f hr@10 %.6f cold ndcg@10 %.6f warm ndcg@10 %.6f\n", path, r.ndcg, r.hr, r.coldNDCG, r.warmNDCG)
	hist := e.split.TestInput(0)
	top, err := rec.TopK(hist, 10, hist)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.out, "# top 10 for user 1 (history %v) via backbone.Recommender: %v\n", hist, top)
	return nil
}
