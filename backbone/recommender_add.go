package backbone

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/llmrec/llmrec/tensor"
	"github.com/llmrec/llmrec/tensor/safetensors"
)

// ItemAdder is an ItemScorer that can serve new items from their raw LLM
// embeddings (moe.Mixture's scorer is one). A Recommender over an ItemAdder
// accepts AddItems.
type ItemAdder interface {
	ItemScorer
	// LLMDim is the width of the raw LLM embeddings WithItems takes.
	LLMDim() int
	// WithItems returns a new ItemScorer serving the same model with
	// llm.Rows() more items (ids NumItems+1, ...), whose raw LLM embeddings
	// are the rows of llm. The receiver is not changed (it may still be
	// serving). Errors wrap ErrNonFinite or ErrBadConfig for bad rows.
	WithItems(llm *tensor.Tensor) (ItemScorer, error)
}

// addition is one logged batch of added items: their item vectors (a
// SeqModel) or their raw LLM embeddings (an ItemAdder).
type addition struct {
	vectors bool
	rows    *tensor.Tensor
}

// AddCheck vets an addition before it is served: next is a Recommender
// serving the candidate snapshot (every current item and the n new ones,
// ids first..first+n-1), which the check may score; an error refuses the
// addition. See SetAddCheck.
type AddCheck func(next *Recommender, first, n int) error

// SetAddCheck sets the check every later addition (AddItems,
// AddItemVectors, LoadItems) must pass before it is swapped in; nil removes
// it. The check runs with the Recommender's addition lock held, after the
// library's own checks (widths, finite values), so it sees each addition
// alone; when it returns an error nothing is added and AddItems returns the
// error wrapped. Requests in flight keep being served from the current
// snapshot meanwhile. A service uses it to bound what clients may add (for
// instance backbone/serve probes the candidate with histories of several
// lengths and bounds the new vectors' norms) and to persist an addition
// exactly when it is committed (the swap after a passing check cannot
// fail).
func (r *Recommender) SetAddCheck(check AddCheck) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.check = check
}

// commitLocked runs the addition check on the candidate snapshot st (n new
// items from first) and swaps it in when it passes.
func (r *Recommender) commitLocked(st *recState, first, n int) error {
	if r.check != nil {
		next := &Recommender{}
		next.state.Store(st)
		next.pool.New = r.pool.New
		if err := r.check(next, first, n); err != nil {
			return err
		}
	}
	r.state.Store(st)
	return nil
}

// SetItemEncoder sets how AddItems turns raw LLM embeddings into item
// vectors for a SeqModel's Recommender (see NewItemEncoder); its Dim must be
// the served table's. A Recommender over an ItemAdder needs none.
func (r *Recommender) SetItemEncoder(enc ItemEncoder) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.state.Load()
	if st.seq == nil {
		return fmt.Errorf("backbone: SetItemEncoder: the served model is not a SeqModel: %w", ErrBadConfig)
	}
	if enc.Dim() != st.seq.table.Cols() {
		return fmt.Errorf("backbone: SetItemEncoder: encoder gives %d-wide vectors, the table is %d wide: %w", enc.Dim(), st.seq.table.Cols(), ErrBadConfig)
	}
	r.enc = enc
	return nil
}

// LLMDim returns the width of the raw LLM embeddings AddItems takes, or 0
// when it takes none (no item encoder set and not an ItemAdder).
func (r *Recommender) LLMDim() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.enc != nil {
		return r.enc.LLMDim()
	}
	if a, ok := r.state.Load().model.(ItemAdder); ok {
		return a.LLMDim()
	}
	return 0
}

// AddItems adds llm.Rows() items from their raw LLM embeddings (rows of
// llm) while the Recommender serves, and returns the id of the first (the
// others follow). A SeqModel's Recommender encodes them with its item
// encoder (SetItemEncoder); an ItemAdder model adds them itself. Calls in
// flight keep the snapshot they started with; later calls see all the new
// items. Errors (nothing is added then) wrap ErrBadConfig (no encoder,
// wrong width) or ErrNonFinite.
func (r *Recommender) AddItems(llm *tensor.Tensor) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addItemsLocked(llm)
}

func (r *Recommender) addItemsLocked(llm *tensor.Tensor) (int, error) {
	st := r.state.Load()
	if st.seq != nil {
		if r.enc == nil {
			return 0, fmt.Errorf("backbone: AddItems: no item encoder (SetItemEncoder): %w", ErrBadConfig)
		}
		vecs, err := r.enc.Encode(llm)
		if err != nil {
			return 0, fmt.Errorf("backbone: AddItems: %w", err)
		}
		return r.addVectorsLocked(vecs)
	}
	a, ok := st.model.(ItemAdder)
	if !ok {
		return 0, fmt.Errorf("backbone: AddItems: the served model cannot add items: %w", ErrBadConfig)
	}
	if llm == nil || llm.Dims() != 2 || llm.Shape[1] != a.LLMDim() {
		return 0, fmt.Errorf("backbone: AddItems: embeddings of shape %v, want [n %d]: %w", shapeOf(llm), a.LLMDim(), ErrBadConfig)
	}
	if err := checkFinite("new item embeddings", llm.Data); err != nil {
		return 0, fmt.Errorf("backbone: AddItems: %w", err)
	}
	first := st.numItems + 1
	if llm.Rows() == 0 {
		return first, nil
	}
	next, err := a.WithItems(llm)
	if err != nil {
		return 0, fmt.Errorf("backbone: AddItems: %w", err)
	}
	if next.NumItems() != st.numItems+llm.Rows() {
		return 0, fmt.Errorf("backbone: AddItems: the model serves %d items after adding %d to %d: %w", next.NumItems(), llm.Rows(), st.numItems, ErrBadConfig)
	}
	if err := r.commitLocked(newState(next), first, llm.Rows()); err != nil {
		return 0, fmt.Errorf("backbone: AddItems: %w", err)
	}
	r.adds = append(r.adds, addition{rows: llm.Clone()})
	return first, nil
}

func shapeOf(t *tensor.Tensor) []int {
	if t == nil {
		return nil
	}
	return t.Shape
}

// AddItemVectors adds vecs.Rows() items with the given item vectors (rows
// of vecs, Dim wide: e.g. from an ItemEncoder) to a SeqModel's
// Recommender while it serves, and returns the id of the first. See
// AddItems for what calls in flight see. Errors wrap ErrBadConfig or
// ErrNonFinite; nothing is added then.
func (r *Recommender) AddItemVectors(vecs *tensor.Tensor) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addVectorsLocked(vecs)
}

func (r *Recommender) addVectorsLocked(vecs *tensor.Tensor) (int, error) {
	st := r.state.Load()
	s := st.seq
	if s == nil {
		return 0, fmt.Errorf("backbone: AddItemVectors: the served model is not a SeqModel: %w", ErrBadConfig)
	}
	d := s.table.Cols()
	if vecs == nil || vecs.Dims() != 2 || vecs.Shape[1] != d {
		return 0, fmt.Errorf("backbone: AddItemVectors: vectors of shape %v, want [n %d]: %w", shapeOf(vecs), d, ErrBadConfig)
	}
	if err := checkFinite("new item vectors", vecs.Data); err != nil {
		return 0, fmt.Errorf("backbone: AddItemVectors: %w", err)
	}
	first := st.numItems + 1
	if vecs.Rows() == 0 {
		return first, nil
	}
	if err := r.commitLocked(newState(s.withItems(vecs)), first, vecs.Rows()); err != nil {
		return 0, fmt.Errorf("backbone: AddItemVectors: %w", err)
	}
	r.adds = append(r.adds, addition{vectors: true, rows: vecs.Clone()})
	return first, r.indexAdd(first, vecs)
}

// withItems returns a scorer over s's table with the rows of vecs appended:
// a new table and packed table (copy on write; s is unchanged).
func (s *seqScorer) withItems(vecs *tensor.Tensor) *seqScorer {
	old, d := s.table, s.table.Cols()
	n1 := old.Rows() + vecs.Rows()
	table := tensor.New(n1, d)
	copy(table.Data, old.Data)
	copy(table.Data[len(old.Data):], vecs.Data)
	ns := &seqScorer{model: s.model, enc: s.enc, table: table, masked: s.masked, numItems: n1 - 1}
	// reuse the packing of the old items: copy the old packed blocks, pack
	// only the panels that receive new items
	p := s.packed
	pad := (n1 + blockW - 1) / blockW * blockW
	np := &packedItems{data: make([]float32, pad*d), d: d, n1: n1, pad: pad}
	copy(np.data, p.data)
	np.fill(table.Data, old.Rows(), n1)
	ns.packed = np
	ns.pool.New = func() any { return ns.newScratch() }
	return ns
}

// NumAdded returns the number of items added since the Recommender was
// built (or loaded).
func (r *Recommender) NumAdded() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.adds {
		n += a.rows.Rows()
	}
	return n
}

const addedMetaKey = "llmrec.added_items"

// addedMeta is the metadata of a saved additions file.
type addedMeta struct {
	// BaseItems is the number of items of the model the additions start
	// after.
	BaseItems int `json:"base_items"`
	// Kinds lists, per logged batch, "vectors" or "llm".
	Kinds []string `json:"kinds"`
}

// SaveItems writes every item added since the Recommender was built to
// path (.safetensors; atomically: a reader sees the old file or the new
// one), so that LoadItems can add them again to the same model.
func (r *Recommender) SaveItems(path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	meta := addedMeta{BaseItems: r.state.Load().numItems, Kinds: []string{}}
	var ts []safetensors.Named
	for i, a := range r.adds {
		meta.BaseItems -= a.rows.Rows()
		kind := "llm"
		if a.vectors {
			kind = "vectors"
		}
		meta.Kinds = append(meta.Kinds, kind)
		ts = append(ts, safetensors.Named{Name: fmt.Sprintf("added.%06d.%s", i, kind), Tensor: a.rows})
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("backbone: SaveItems %s: %w", path, err)
	}
	if err := safetensors.WriteFile(path, ts, map[string]string{addedMetaKey: string(b)}); err != nil {
		return fmt.Errorf("backbone: SaveItems %s: %w", path, err)
	}
	return nil
}

// LoadItems adds the items saved by SaveItems at path, in their order, to
// a Recommender that has the model's original items and no additions yet
// (so that the ids are the same). It returns the number of items added.
// A malformed file is an error wrapping ErrBadCheckpoint, and nothing is
// added then.
func (r *Recommender) LoadItems(path string) (int, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return 0, fmt.Errorf("backbone: LoadItems %s: %w: %w", path, ErrBadCheckpoint, err)
	}
	defer f.Close()
	var meta addedMeta
	if err := json.Unmarshal([]byte(f.Metadata[addedMetaKey]), &meta); err != nil {
		return 0, fmt.Errorf("backbone: LoadItems %s: metadata %q: %w: %v", path, addedMetaKey, ErrBadCheckpoint, err)
	}
	batches := make([]addition, len(meta.Kinds))
	for i, kind := range meta.Kinds {
		if kind != "llm" && kind != "vectors" {
			return 0, fmt.Errorf("backbone: LoadItems %s: batch %d of kind %q: %w", path, i, kind, ErrBadCheckpoint)
		}
		t, err := f.Tensor("added." + fmt.Sprintf("%06d", i) + "." + kind)
		if err != nil {
			return 0, fmt.Errorf("backbone: LoadItems %s: %w: %w", path, ErrBadCheckpoint, err)
		}
		if t.Dims() != 2 {
			return 0, fmt.Errorf("backbone: LoadItems %s: batch %d has shape %v: %w", path, i, t.Shape, ErrBadCheckpoint)
		}
		batches[i] = addition{vectors: kind == "vectors", rows: t}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.state.Load()
	if len(r.adds) > 0 || st.numItems != meta.BaseItems {
		return 0, fmt.Errorf("backbone: LoadItems %s: saved for a model of %d items, this one serves %d (%d added): %w",
			path, meta.BaseItems, st.numItems, len(r.adds), ErrBadCheckpoint)
	}
	n := 0
	for i, a := range batches {
		var err error
		if a.vectors {
			_, err = r.addVectorsLocked(a.rows)
		} else {
			_, err = r.addItemsLocked(a.rows)
		}
		if err != nil {
			// all or nothing: back to the original snapshot
			r.adds = r.adds[:0]
			r.state.Store(st)
			return 0, fmt.Errorf("backbone: LoadItems %s: batch %s: %w", path, strconv.Itoa(i), err)
		}
		n += a.rows.Rows()
	}
	return n, nil
}
