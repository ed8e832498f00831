// Packed sequences (varlen): several documents share one batch row; segment
// ids keep attention inside each document, causally. Sizes are dynamic.
// RUN: attn-run %s --random --seed 1 --dim B=2 --dim Sq=300 --dim Skv=300 --check

func.func @packed(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x8x?x64xbf16>,
                  %v: tensor<?x8x?x64xbf16>,
                  %q_ids: tensor<?x?xi32>, %kv_ids: tensor<?x?xi32>)
    -> tensor<?x8x?x64xbf16> {
  %o = attn.attention %q, %k, %v
      segments(%q_ids, %kv_ids : tensor<?x?xi32>, tensor<?x?xi32>)
      mask(#attn.and<[#attn.document, #attn.causal]>)
      : tensor<?x8x?x64xbf16>, tensor<?x8x?x64xbf16>, tensor<?x8x?x64xbf16>
      -> tensor<?x8x?x64xbf16>
  return %o : tensor<?x8x?x64xbf16>
}
