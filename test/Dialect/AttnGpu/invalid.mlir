// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @f32_operands(%a: i64, %b: i64, %c: vector<64xf32>) -> vector<64xf32> {
  // expected-error @+1 {{element_type must be f16 or bf16 (f32 operands stay on mma.sync), got 'f32'}}
  %d = attn_gpu.wgmma %a, %b, %c {element_type = f32} : i64, vector<64xf32>
  return %d : vector<64xf32>
}

// -----

func.func @odd_n(%a: i64, %b: i64, %c: vector<6xf32>) -> vector<6xf32> {
  // expected-error @+1 {{the accumulator holds N / 2 values per thread for m64nNk16 with N a multiple of 8 in [8, 256]; 'vector<6xf32>' gives N = 12}}
  %d = attn_gpu.wgmma %a, %b, %c {element_type = bf16} : i64, vector<6xf32>
  return %d : vector<6xf32>
}

// -----

func.func @wide_n(%a: i64, %b: i64, %c: vector<132xf32>) -> vector<132xf32> {
  // expected-error @+1 {{gives N = 264}}
  %d = attn_gpu.wgmma %a, %b, %c {element_type = bf16} : i64, vector<132xf32>
  return %d : vector<132xf32>
}

// -----

func.func @fragment_size(%a: vector<4xbf16>, %b: i64, %c: vector<64xf32>) -> vector<64xf32> {
  // expected-error @+1 {{an A fragment in registers is 'vector<8xbf16>' (four 32-bit registers), got 'vector<4xbf16>'}}
  %d = attn_gpu.wgmma %a, %b, %c {element_type = bf16} : vector<4xbf16>, vector<64xf32>
  return %d : vector<64xf32>
}

// -----

func.func @fragment_type(%a: vector<8xf16>, %b: i64, %c: vector<64xf32>) -> vector<64xf32> {
  // expected-error @+1 {{an A fragment in registers is 'vector<8xbf16>' (four 32-bit registers), got 'vector<8xf16>'}}
  %d = attn_gpu.wgmma %a, %b, %c {element_type = bf16} : vector<8xf16>, vector<64xf32>
  return %d : vector<64xf32>
}

// -----

func.func @transposed_registers(%a: vector<8xbf16>, %b: i64, %c: vector<64xf32>) -> vector<64xf32> {
  // expected-error @+1 {{transpose_a needs A in shared memory (a descriptor); a register fragment is K-major}}
  %d = attn_gpu.wgmma %a, %b, %c {element_type = bf16, transpose_a} : vector<8xbf16>, vector<64xf32>
  return %d : vector<64xf32>
}

// -----

func.func @mismatched_result(%a: i64, %b: i64, %c: vector<64xf32>) -> vector<32xf32> {
  // expected-error @+1 {{all of {acc, result} have same type}}
  %d = "attn_gpu.wgmma"(%a, %b, %c) {element_type = bf16} : (i64, i64, vector<64xf32>) -> vector<32xf32>
  return %d : vector<32xf32>
}
