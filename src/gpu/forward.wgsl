// The forward pass of a compiled model's plan (src/model/plan.rs), as
// three kernels over one chunk of packed rows (the positions of all
// sequences, one after another):
//
//   embed   resid[r] = W_E[token] + W_pos[position]
//   gmm     dst[r, out(c)] (=, = relu, +=) sum_k src[r, in(k)] W[k, c] + b[c]
//           (tiled 16 x 16 in workgroup memory; in() and out() are index
//           lists or the identity)
//   attend  one head of one query row: masked scores, softmax, the
//           weighted sum of the values; the weights stay in `scores`.
//
// Every kernel reads its parameters from one slot of `params` (a dynamic
// uniform offset per dispatch). Offsets are in f32 / u32 elements.

struct Params {
    a: vec4<u32>,
    b: vec4<u32>,
    c: vec4<u32>,
    d: vec4<u32>,
}

const NONE: u32 = 0xffffffffu;
// Below this, exp underflows to 0 (as in the CPU executor).
const EXP_FLOOR: f32 = -104.0;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read> index: array<u32>;
// Per row: token id, first row of its sequence, the sequence's length,
// the row's position in it.
@group(0) @binding(3) var<storage, read> rows: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> acts: array<f32>;

// a = (rows, d_model, W_E, W_pos), b.x = resid
@compute @workgroup_size(64)
fn embed(@builtin(global_invocation_id) g: vec3<u32>) {
    let r = g.x;
    if (r >= p.a.x) {
        return;
    }
    let dm = p.a.y;
    let info = rows[r];
    let e = p.a.z + info.x * dm;
    let q = p.a.w + info.w * dm;
    let out = p.b.x + r * dm;
    for (var d = 0u; d < dm; d++) {
        acts[out + d] = weights[e + d] + weights[q + d];
    }
}

var<workgroup> tile_a: array<array<f32, 16>, 16>;
var<workgroup> tile_w: array<array<f32, 16>, 16>;

// a = (rows, k, n, mode: 0 store, 1 store relu, 2 add)
// b = (src, src_stride, src_index or NONE, dst)
// c = (dst_stride, dst_index or NONE, W, bias or NONE)
@compute @workgroup_size(16, 16)
fn gmm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
    let n_rows = p.a.x;
    let k = p.a.y;
    let n = p.a.z;
    let r = wg.y * 16u + l.y;
    let c = wg.x * 16u + l.x;
    var acc = 0.0;
    let tiles = (k + 15u) / 16u;
    for (var t = 0u; t < tiles; t++) {
        let ka = t * 16u + l.x;
        var av = 0.0;
        if (r < n_rows && ka < k) {
            var col = ka;
            if (p.b.z != NONE) {
                col = index[p.b.z + ka];
            }
            av = acts[p.b.x + r * p.b.y + col];
        }
        tile_a[l.y][l.x] = av;
        let kw = t * 16u + l.y;
        var wv = 0.0;
        if (kw < k && c < n) {
            wv = weights[p.c.z + kw * n + c];
        }
        tile_w[l.y][l.x] = wv;
        workgroupBarrier();
        for (var i = 0u; i < 16u; i++) {
            acc += tile_a[l.y][i] * tile_w[i][l.x];
        }
        workgroupBarrier();
    }
    if (r < n_rows && c < n) {
        if (p.c.w != NONE) {
            acc += weights[p.c.w + c];
        }
        if (p.a.w == 1u) {
            acc = max(acc, 0.0);
        }
        var col = c;
        if (p.c.y != NONE) {
            col = index[p.c.y + c];
        }
        let at = p.b.w + r * p.c.x + col;
        if (p.a.w == 2u) {
            acts[at] = acts[at] + acc;
        } else {
            acts[at] = acc;
        }
    }
}

// a = (rows, heads, qkv, qkv_stride)
// b = (z, z_stride, scores, n_ctx)
// c = (causal, pad_id, bits of the score scale, head table)
// d.x = rows of a head's block in `scores` (the chunk capacity)
// A head table entry: q, k, v, d_qk, d_v, z (offsets in a qkv / z row).
@compute @workgroup_size(64)
fn attend(@builtin(global_invocation_id) g: vec3<u32>) {
    let r = g.x;
    let h = g.y;
    if (r >= p.a.x || h >= p.a.y) {
        return;
    }
    let stride = p.a.w;
    let info = rows[r];
    let start = info.y;
    let len = info.z;
    var keys = len;
    if (p.c.x != 0u) {
        keys = info.w + 1u;
    }
    let ht = p.c.w + h * 6u;
    let q = p.a.z + r * stride + index[ht];
    let ko = index[ht + 1u];
    let vo = index[ht + 2u];
    let d_qk = index[ht + 3u];
    let d_v = index[ht + 4u];
    let z = p.b.x + r * p.b.y + index[ht + 5u];
    let sc = p.b.z + (h * p.d.x + r) * p.b.w;
    let scale = bitcast<f32>(p.c.z);

    var top = 0.0;
    var any = false;
    for (var j = 0u; j < keys; j++) {
        let kr = start + j;
        if (rows[kr].x == p.c.y) {
            continue;
        }
        let kk = p.a.z + kr * stride + ko;
        var s = 0.0;
        for (var d = 0u; d < d_qk; d++) {
            s += acts[q + d] * acts[kk + d];
        }
        s = s / scale;
        acts[sc + j] = s;
        if (!any || s > top) {
            top = s;
        }
        any = true;
    }
    var sum = 0.0;
    for (var j = 0u; j < len; j++) {
        var e = 0.0;
        if (any && j < keys && rows[start + j].x != p.c.y) {
            let d = acts[sc + j] - top;
            if (d >= EXP_FLOOR) {
                e = exp(d);
            }
        }
        acts[sc + j] = e;
        sum += e;
    }
    for (var j = 0u; j < len; j++) {
        if (any) {
            acts[sc + j] = acts[sc + j] / sum;
        }
    }
    for (var d = 0u; d < d_v; d++) {
        var acc = 0.0;
        for (var j = 0u; j < keys; j++) {
            let w = acts[sc + j];
            if (w != 0.0) {
                acc += w * acts[p.a.z + (start + j) * stride + vo + d];
            }
        }
        acts[z + d] = acc;
    }
}
