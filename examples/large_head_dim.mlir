// Head dimension 256 (Gemma, some vision models) in bf16, causal with
// grouped-query heads. On the GPU the query tile of such heads stays in
// shared memory instead of registers.
// RUN: attn-run %s --random --seed 4 --dim B=1 --dim Sq=100 --dim Skv=100 --check

func.func @wide_heads(%q: tensor<?x4x?x256xbf16>, %k: tensor<?x2x?x256xbf16>,
                      %v: tensor<?x2x?x256xbf16>) -> tensor<?x4x?x256xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal)
      : tensor<?x4x?x256xbf16>, tensor<?x2x?x256xbf16>, tensor<?x2x?x256xbf16>
      -> tensor<?x4x?x256xbf16>
  return %o : tensor<?x4x?x256xbf16>
}
