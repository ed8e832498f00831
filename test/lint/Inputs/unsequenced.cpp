// Input of evaluation-order.test: not compiled.
// Not a finding: f(Op::create(b, x), Op::create(b, y)) in a comment.
Value unsequenced(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::AddFOp::create(b, loc, math::ExpOp::create(b, loc, x),
                               math::LogOp::create(b, loc, y));
}

Value sequenced(OpBuilder &b, Location loc, Value x, Value y) {
  Value e = math::ExpOp::create(b, loc, x);
  Value l = math::LogOp::create(b, loc, y);
  // One creating argument; a braced list is evaluated in order.
  use(ValueRange{math::ExpOp::create(b, loc, x), math::LogOp::create(b, loc, y)},
      "f(Op::create(b, x), Op::create(b, y))");
  // A lambda's body runs later, when the callee calls it.
  scf::ForOp::create(b, loc, e, l, math::ExpOp::create(b, loc, x),
                     [&](OpBuilder &nb, Location nloc, Value i, ValueRange) {
                       scf::YieldOp::create(nb, nloc);
                     });
  return arith::AddFOp::create(b, loc, e, l);
}

void rewrite(PatternRewriter &rewriter, Operation *op, Value x) {
  rewriter.replaceOp(op, {arith::NegFOp::create(rewriter, op->getLoc(), x)});
  helper(arith::NegFOp::create(rewriter, op->getLoc(), x),
         arith::AbsFOp::create(rewriter, op->getLoc(), x));
}
