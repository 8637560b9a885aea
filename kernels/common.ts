// Helpers shared by the kernel families: half-float decoding, horizontal sums, a vector exp.
// Everything here is inlined into the kernels; nothing is exported from the module.

/** IEEE half bits (low 16 bits of h) to f32, exact for normals, subnormals, inf and NaN. */
// @ts-ignore: decorator
@inline export function f16_to_f32(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const em = h & 0x7fff;
  if (em >= 0x7c00) return reinterpret<f32>(sign | 0x7f800000 | (em << 13));
  // Shifting exponent+mantissa into f32 position and multiplying by 2^112 re-biases the exponent and turns
  // half subnormals into the right f32 values in one step.
  return reinterpret<f32>(sign | reinterpret<u32>(reinterpret<f32>(em << 13) * reinterpret<f32>(0x77800000)));
}

/** f32 to IEEE half bits, round to nearest even; overflow gives inf, NaN stays NaN. */
// @ts-ignore: decorator
@inline export function f32_to_f16(x: f32): u32 {
  const bits = reinterpret<u32>(x);
  const sign = (bits >> 16) & 0x8000;
  const exponent = <i32>((bits >> 23) & 0xff);
  let mantissa = bits & 0x7fffff;
  if (exponent == 0xff) return sign | 0x7c00 | (mantissa != 0 ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = <u32>(14 - e);
    let half = mantissa >> shift;
    const rest = mantissa & ((<u32>1 << shift) - 1);
    const halfway = <u32>1 << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1) != 0)) half++;
    return sign | half;
  }
  let h = (<u32>e << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) h++; // a carry into the exponent is still correct
  return sign | h;
}

/** Four f16 values (u16 lanes zero-extended to i32x4) to f32x4; inf/NaN halves are not expected in weights. */
// @ts-ignore: decorator
@inline export function f16x4_to_f32x4(h: v128): v128 {
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const em = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  const magnitude = f32x4.mul(em, f32x4.splat(reinterpret<f32>(0x77800000)));
  return v128.or(magnitude, sign);
}

/** Sum of the four f32 lanes, in lane order ((l0 + l1) + (l2 + l3)). */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Sum of the four i32 lanes. */
// @ts-ignore: decorator
@inline export function hsum_i32(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/**
 * exp(x) per lane, relative error about 2e-7 over the f32 range (Cephes expf: x = k ln2 + r, |r| <= ln2/2,
 * exp(r) by a degree-7 polynomial, 2^k by building the exponent bits). Inputs below -87.3 give 0, above 88.7 inf.
 */
// @ts-ignore: decorator
@inline export function exp_f32x4(x: v128): v128 {
  const hi = f32x4.splat(88.72283);
  const lo = f32x4.splat(-87.33654);
  const tooLow = f32x4.lt(x, lo);
  const tooHigh = f32x4.gt(x, hi);
  const xc = f32x4.max(f32x4.min(x, hi), lo);
  const k = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(xc, f32x4.mul(k, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(k, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1.0));
  // 2^k split in two factors so k = 128 (x near 88.7) does not overflow the exponent field.
  const ki = i32x4.trunc_sat_f32x4_s(k);
  const half = i32x4.shr_s(ki, 1);
  const scale1 = i32x4.shl(i32x4.add(half, i32x4.splat(127)), 23);
  const scale2 = i32x4.shl(i32x4.add(i32x4.sub(ki, half), i32x4.splat(127)), 23);
  const result = f32x4.mul(f32x4.mul(p, scale1), scale2);
  return v128.bitselect(f32x4.splat(Infinity), v128.andnot(result, tooLow), tooHigh);
}

/** Scalar exp through the vector path, so tails give exactly what full vectors give. */
// @ts-ignore: decorator
@inline export function exp_f32(x: f32): f32 {
  return f32x4.extract_lane(exp_f32x4(f32x4.splat(x)), 0);
}
