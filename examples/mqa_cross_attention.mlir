// Multi-query cross attention: 12 query heads share one key/value head;
// 77 queries attend to 301 keys; the value dimension (48) differs from the
// head dimension (40); an explicit scale.
// RUN: attn-run %s --random --seed 1 --check

func.func @cross(%q: tensor<3x12x77x40xf16>, %k: tensor<3x1x301x40xf16>,
                 %v: tensor<3x1x301x48xf16>) -> tensor<3x12x77x48xf16> {
  %o = attn.attention %q, %k, %v scale(0.2)
      : tensor<3x12x77x40xf16>, tensor<3x1x301x40xf16>, tensor<3x1x301x48xf16>
      -> tensor<3x12x77x48xf16>
  return %o : tensor<3x12x77x48xf16>
}
