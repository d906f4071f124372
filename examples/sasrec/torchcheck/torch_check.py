#!/usr/bin/env python3
"""Compare a Go SASRec checkpoint with the PyTorch reference (see main.go for usage).

Loads the .safetensors written by examples/sasrec into sasrec_torch.SASRec with
load_state_dict(strict=True), scores the same users and items as the Go JSON and
prints the largest absolute and relative difference as one JSON line.
"""
import argparse
import json
import struct
import sys

import numpy as np
import torch


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        buf = f.read()
    out, meta = {}, hdr.pop("__metadata__", {})
    for k, v in hdr.items():
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(buf[a:b], dtype=np.float32).reshape(v["shape"]).copy())
    return out, meta


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ref", required=True, help="folder holding sasrec_torch.py")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--go", required=True, help="JSON written by torchcheck")
    a = p.parse_args()
    sys.path.insert(0, a.ref)
    import sasrec_torch as ref

    weights, meta = load_safetensors(a.model)
    enc = json.loads(meta["llmrec.backbone"])["encoder"]
    seqs = ref.read_sequences(a.data, "seq")
    users, train, valid, test = ref.leave_one_out(seqs)
    num_items = max(max(s) for s in seqs.values())
    m = ref.SASRec(num_items, enc["max_len"], enc["dim"], enc["blocks"], enc["heads"], enc["dropout"],
                   key_mask=True, out_proj=enc.get("out_proj", False), style=enc["style"])
    m.load_state_dict(weights, strict=True)
    m.eval()
    go = json.load(open(a.go))
    maxabs, maxrel = 0.0, 0.0
    with torch.no_grad():
        for key, gs in go.items():
            u = int(key)
            inp = train[u] + ([valid[u]] if valid[u] else [])
            x = torch.from_numpy(ref.left_pad_window(inp, enc["max_len"])).unsqueeze(0)
            h = m.last_hidden(x)[0]
            cands = [1, 2, 3, 100, num_items // 2, num_items] + ([test[u]] if test[u] else [])
            s = (m.item_emb.weight[cands] @ h).numpy().astype(np.float64)
            d = float(np.abs(s - np.asarray(gs, dtype=np.float64)).max())
            maxabs = max(maxabs, d)
            maxrel = max(maxrel, d / (float(np.abs(s).max()) + 1e-12))
    print(json.dumps({"users": len(go), "max_abs_diff": maxabs, "max_rel_diff": maxrel}))


if __name__ == "__main__":
    main()
