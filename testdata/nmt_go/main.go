// Command nmt_go answers NMT questions with celestiaorg/nmt itself, so our
// vectors can be checked against the peer (see check_nmt_go.py next to it).
//
// Input (stdin): {"cases": [{"namespace_size", "leaves", "namespaces",
// "proofs": [{"kind": "range", "start", "end"} | {"kind": "namespace",
// "namespace"} | {"kind": "verify_namespace", "namespace", "start", "end",
// "nodes", "leaf_hash", "leaves"?}]}]}, byte strings in hex. Output (stdout): for
// each case, the root and, for each query, celestiaorg/nmt's start, end,
// nodes and leaf_hash, and whether its own VerifyNamespace /
// VerifyInclusion accept that proof (for verify_namespace: the proof
// given) with the leaves of its range.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"

	"github.com/celestiaorg/nmt"
	"github.com/celestiaorg/nmt/namespace"
)

type query struct {
	Kind      string   `json:"kind"`
	Start     int      `json:"start"`
	End       int      `json:"end"`
	Namespace string   `json:"namespace"`
	Nodes     []string `json:"nodes"`
	LeafHash  *string  `json:"leaf_hash"`
	// For verify_namespace: the namespaced leaves to verify with, if not
	// the tree's own leaves of the proof's range.
	Leaves *[]string `json:"leaves"`
}

type tree struct {
	NamespaceSize int      `json:"namespace_size"`
	Leaves        []string `json:"leaves"`
	Namespaces    []string `json:"namespaces"`
	Proofs        []query  `json:"proofs"`
}

type answer struct {
	Start    int      `json:"start"`
	End      int      `json:"end"`
	Nodes    []string `json:"nodes"`
	LeafHash *string  `json:"leaf_hash"`
	Error    string   `json:"error,omitempty"`
	Verified bool     `json:"verified"`
}

type result struct {
	Root   string   `json:"root"`
	Proofs []answer `json:"proofs"`
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func main() {
	var in struct {
		Cases []tree `json:"cases"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	out := make([]result, 0, len(in.Cases))
	for _, c := range in.Cases {
		t := nmt.New(sha256.New(), nmt.NamespaceIDSize(c.NamespaceSize))
		data := make([][]byte, len(c.Leaves))
		for i := range c.Leaves {
			data[i] = append(unhex(c.Namespaces[i]), unhex(c.Leaves[i])...)
			if err := t.Push(data[i]); err != nil {
				panic(err)
			}
		}
		root, err := t.Root()
		if err != nil {
			panic(err)
		}
		r := result{Root: hex.EncodeToString(root)}
		for _, q := range c.Proofs {
			var p nmt.Proof
			var nid namespace.ID
			switch q.Kind {
			case "range":
				p, err = t.ProveRange(q.Start, q.End)
			case "verify_namespace":
				nid = unhex(q.Namespace)
				nodes := make([][]byte, len(q.Nodes))
				for i, n := range q.Nodes {
					nodes[i] = unhex(n)
				}
				if q.LeafHash != nil {
					p = nmt.NewAbsenceProof(q.Start, q.End, nodes, unhex(*q.LeafHash), true)
				} else if q.Start == q.End {
					p = nmt.NewEmptyRangeProof(true)
				} else {
					p = nmt.NewInclusionProof(q.Start, q.End, nodes, true)
				}
			default:
				nid = unhex(q.Namespace)
				p, err = t.ProveNamespace(nid)
			}
			a := answer{Start: p.Start(), End: p.End(), Nodes: []string{}}
			if err != nil {
				a.Error = err.Error()
			}
			for _, n := range p.Nodes() {
				a.Nodes = append(a.Nodes, hex.EncodeToString(n))
			}
			if lh := p.LeafHash(); len(lh) > 0 {
				s := hex.EncodeToString(lh)
				a.LeafHash = &s
			}
			if err == nil {
				if q.Kind == "range" {
					nid = data[q.Start][:c.NamespaceSize]
					a.Verified = p.VerifyInclusion(sha256.New(), nid, trim(data[p.Start():p.End()], c.NamespaceSize), root)
				} else {
					leaves := [][]byte{}
					if q.Leaves != nil {
						for _, l := range *q.Leaves {
							leaves = append(leaves, unhex(l))
						}
					} else if !p.IsOfAbsence() {
						leaves = data[p.Start():p.End()]
					}
					a.Verified = p.VerifyNamespace(sha256.New(), nid, leaves, root)
				}
			}
			r.Proofs = append(r.Proofs, a)
		}
		out = append(out, r)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}

// trim drops the namespace prefix: VerifyInclusion takes leaves without it.
func trim(data [][]byte, n int) [][]byte {
	out := make([][]byte, len(data))
	for i, d := range data {
		out[i] = d[n:]
	}
	return out
}
