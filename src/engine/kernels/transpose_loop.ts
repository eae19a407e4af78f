const BLOCK = 32;

/** dst[k][c][r] = src[k][r][c] for every matrix k of a batch, in cache-friendly tiles. */
export function transposeLastTwo(src: Float32Array, dst: Float32Array, rows: number, cols: number): void {
  const size = rows * cols;
  for (let base = 0; base < src.length; base += size) {
    for (let r0 = 0; r0 < rows; r0 += BLOCK) {
      const r1 = Math.min(r0 + BLOCK, rows);
      for (let c0 = 0; c0 < cols; c0 += BLOCK) {
        const c1 = Math.min(c0 + BLOCK, cols);
        for (let r = r0; r < r1; r++) {
          let s = base + r * cols + c0;
          let d = base + c0 * rows + r;
          for (let c = c0; c < c1; c++, s++, d += rows) dst[d] = src[s];
        }
      }
    }
  }
}

type Typed = Float32Array | Int32Array | Uint8Array;

/**
 * General N-d transpose: dst (shape permuted by perm) is written in order while src is read with the
 * permuted strides. Size-1 dimensions are dropped first; a contiguous innermost run becomes a block copy.
 */
export function permute(src: Typed, shape: readonly number[], perm: readonly number[], dst: Typed): void {
  const keep = perm.filter((p) => shape[p] !== 1);
  const srcStrides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    srcStrides[d] = s;
    s *= shape[d];
  }
  const dims = keep.map((p) => shape[p]);
  const strides = keep.map((p) => srcStrides[p]);
  // Merge output dims whose source strides line up (stride[d] == stride[d+1] * dims[d+1]).
  const mDims: number[] = [];
  const mStrides: number[] = [];
  for (let d = 0; d < dims.length; d++) {
    const last = mDims.length - 1;
    if (last >= 0 && mStrides[last] === strides[d] * dims[d]) {
      mDims[last] = mDims[last] * dims[d];
      mStrides[last] = strides[d];
    } else {
      mDims.push(dims[d]);
      mStrides.push(strides[d]);
    }
  }
  const rank = mDims.length;
  if (rank <= 1) {
    dst.set(src.subarray(0, dst.length) as never);
    return;
  }
  if (rank === 2 && mStrides[1] === mDims[0] && mStrides[0] === 1) {
    transposeLastTwo(src as Float32Array, dst as Float32Array, mDims[1], mDims[0]);
    return;
  }
  const a = rank - 1; // contiguous in dst
  const b = mStrides.indexOf(1); // contiguous in src
  if (b === a || b < 0) {
    copyRuns(src, dst, mDims, mStrides);
    return;
  }
  // Tiled: the innermost two loops walk a TILE x TILE block, reading src along b and writing dst along a,
  // so both sides stay in cache whatever the strides (a plain odometer misses the cache on every read).
  const dstStrides = new Array<number>(rank);
  let t = 1;
  for (let d = rank - 1; d >= 0; d--) {
    dstStrides[d] = t;
    t *= mDims[d];
  }
  const outerDims: number[] = [];
  const outerSrc: number[] = [];
  const outerDst: number[] = [];
  for (let d = 0; d < rank; d++) {
    if (d === a || d === b) continue;
    outerDims.push(mDims[d]);
    outerSrc.push(mStrides[d]);
    outerDst.push(dstStrides[d]);
  }
  const nA = mDims[a], sA = mStrides[a];
  const nB = mDims[b], dB = dstStrides[b];
  const index = new Array<number>(outerDims.length).fill(0);
  let srcBase = 0;
  let dstBase = 0;
  for (;;) {
    for (let j0 = 0; j0 < nB; j0 += TILE) {
      const j1 = Math.min(j0 + TILE, nB);
      for (let i0 = 0; i0 < nA; i0 += TILE) {
        const i1 = Math.min(i0 + TILE, nA);
        for (let j = j0; j < j1; j++) {
          let sp = srcBase + j + i0 * sA;
          let dp = dstBase + j * dB + i0;
          for (let i = i0; i < i1; i++, sp += sA) dst[dp++] = src[sp];
        }
      }
    }
    let d = outerDims.length - 1;
    for (; d >= 0; d--) {
      index[d]++;
      srcBase += outerSrc[d];
      dstBase += outerDst[d];
      if (index[d] < outerDims[d]) break;
      srcBase -= outerSrc[d] * outerDims[d];
      dstBase -= outerDst[d] * outerDims[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

const TILE = 16;

/** Odometer copy for permutations that keep the innermost dimension: one block copy per run. */
function copyRuns(src: Typed, dst: Typed, dims: number[], strides: number[]): void {
  const rank = dims.length;
  const inner = dims[rank - 1];
  const innerStride = strides[rank - 1];
  const outerRank = rank - 1;
  const index = new Array<number>(outerRank).fill(0);
  let base = 0;
  let o = 0;
  const total = dst.length;
  while (o < total) {
    if (innerStride === 1) {
      dst.set(src.subarray(base, base + inner) as never, o);
      o += inner;
    } else {
      for (let i = 0, p = base; i < inner; i++, p += innerStride) dst[o++] = src[p];
    }
    for (let d = outerRank - 1; d >= 0; d--) {
      index[d]++;
      base += strides[d];
      if (index[d] < dims[d]) break;
      base -= strides[d] * dims[d];
      index[d] = 0;
    }
  }
}
