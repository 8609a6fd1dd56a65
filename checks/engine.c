/* The compiled engine's search (issue #15): hand-written, included after the code that
 * checks/cgen.py generates for one design and bound (see there):
 *   - constants P, M, NS, NF (slots per domain), W (bytes of a slot state), NI (action
 *     instances), NK (action kinds), NA / NST (state / step properties);
 *   - I_<field> index tables: where each field of model/symbolic.py FIELDS sits in a slot
 *     state; OUT_A, OUT_B (outgoing statuses), PRESERVED_ST (a padding file's state);
 *   - inst(i, s, o, &ret) -> enabled, and the step-property bits of that transition;
 *   - always(s) -> bits of the state properties the slot state violates;
 *   - INST_KIND[i]: the coverage kind of instance i.
 *
 * The state the search stores is the explicit model's (model/state.py layout) in its
 * canonical form: the slot state a transition yields is read as model/symbolic.py decode
 * reads it (struct X), reduced by the same canonical form as model/state.py
 * canonical_map (incoming files and sessions sorted, memfds and pages relabelled, ties
 * kept in their order: every sort is stable, as Python's), packed (nibbles), and looked
 * up. A stored state is expanded from the slot state model/symbolic.py encode gives it,
 * so the transition relation is the encoding's on exactly the states the encoding's
 * agreement tests relate to the explicit model. Search order, pruning past violations
 * and the revival of a pruned state reached again by a clean step follow
 * checks/explore.py _bfs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

typedef signed char sc;

typedef struct { sc ser, fo[P], handle; } Ent;            /* a snapshot entry */
typedef struct { sc st, memfd, ser, fo[P], handle, tried, nexp, exp[P]; } Fil;
typedef struct {
  sc status, fblk, frozen, vetoed, nf, snap, sfblk, nse;
  Fil f[NF];
  Ent e[NF];
} Ses;
#define NG 6                   /* glob: kexecs, phase, faults, rebooting, device, deser */
#define DESER_PENDING 1        /* model/state.py: incoming records not yet deserialized */
typedef struct {
  sc g[NG];
  sc pg[P][4];                 /* owner, tracked, stamped, content (scratch is 0) */
  sc ma[M], mu[M], mfo[M][P];  /* memfd alive, user fd, folio set */
  sc nl[2];                    /* outgoing, incoming sessions */
  Ses s[2][NS];
} X;

/* ---------------------------------------------------------------- slots <-> X */
static int is_out(int status) { return status == OUT_A || status == OUT_B; }

static void isort_by(int *xs, int n, const sc *s, const short *seq) {
  for (int i = 1; i < n; i++) {
    int a = xs[i], j = i;
    while (j > 0 && s[seq[xs[j - 1]]] > s[seq[a]]) { xs[j] = xs[j - 1]; j--; }
    xs[j] = a;
  }
}

/* model/symbolic.py decode */
static void from_slots(const sc *s, X *x) {
  memset(x, 0, sizeof *x);
  x->g[0] = s[I_kexecs]; x->g[1] = s[I_phase]; x->g[2] = s[I_faults];
  x->g[3] = s[I_rebooting]; x->g[4] = s[I_device]; x->g[5] = s[I_deser];
  for (int p = 0; p < P; p++) {
    x->pg[p][0] = s[I_owner[p]]; x->pg[p][1] = s[I_kho_tracked[p]];
    x->pg[p][2] = s[I_stamped[p]]; x->pg[p][3] = s[I_content[p]];
  }
  for (int m = 0; m < M; m++) {
    x->ma[m] = s[I_memfd_alive[m]];
    if (!x->ma[m]) continue;
    x->mu[m] = s[I_memfd_user_fd[m]];
    for (int p = 0; p < P; p++) x->mfo[m][p] = s[I_memfd_folio[m][p]];
  }
  int live[NS], nlive = 0;
  for (int v = 0; v < NS; v++) if (s[I_session_exists[v]]) live[nlive++] = v;
  isort_by(live, nlive, s, I_session_seq);
  for (int i = 0; i < nlive; i++) {
    int v = live[i], st = s[I_session_status[v]], li = is_out(st) ? 0 : 1;
    Ses *z = &x->s[li][x->nl[li]++];
    z->status = (sc)st;
    z->fblk = s[I_session_has_block[v]] ? s[I_session_block[v]] : -1;
    z->frozen = s[I_session_frozen[v]]; z->vetoed = s[I_session_vetoed[v]];
    int fs[NF], n = 0;
    for (int f = 0; f < NF; f++)
      if (s[I_file_live[f]] && s[I_file_session[f]] == v) fs[n++] = f;
    isort_by(fs, n, s, I_file_seq);
    z->nf = (sc)n;
    for (int a = 0; a < n; a++) {
      int f = fs[a]; Fil *q = &z->f[a];
      q->st = s[I_file_state[f]];
      q->memfd = s[I_file_has_memfd[f]] ? s[I_file_memfd[f]] : -1;
      q->ser = s[I_file_has_ser[f]] ? s[I_file_ser[f]] : -1;
      for (int p = 0; p < P; p++) q->fo[p] = s[I_file_folio[f][p]];
      q->handle = s[I_file_handle[f]]; q->tried = s[I_file_tried[f]];
      for (int p = 0; p < P; p++)
        if (s[I_file_expect_known[f][p]]) q->exp[q->nexp++] = s[I_file_expect[f][p]];
    }
    z->snap = s[I_session_snapshot[v]];
    if (!z->snap) continue;
    z->sfblk = s[I_snapshot_has_block[v]] ? s[I_snapshot_block[v]] : -1;
    n = 0;
    for (int f = 0; f < NF; f++)
      if (s[I_file_in_snapshot[f]] && s[I_file_session[f]] == v) fs[n++] = f;
    isort_by(fs, n, s, I_file_seq);
    z->nse = (sc)n;
    for (int a = 0; a < n; a++) {
      int f = fs[a]; Ent *e = &z->e[a];
      e->ser = s[I_snapshot_has_ser[f]] ? s[I_snapshot_ser[f]] : -1;
      for (int p = 0; p < P; p++) e->fo[p] = s[I_snapshot_folio[f][p]];
      e->handle = s[I_snapshot_handle[f]];
    }
  }
}

static int nfolios(const sc *fo) { int n = 0; for (int p = 0; p < P; p++) n += fo[p]; return n; }

static void put_file(sc *s, int slot, int v, int seq, const Fil *q, const Ent *e) {
  s[I_file_live[slot]] = q != 0; s[I_file_in_snapshot[slot]] = e != 0;
  s[I_file_session[slot]] = (sc)v; s[I_file_seq[slot]] = (sc)seq;
  s[I_file_state[slot]] = PRESERVED_ST;
  if (q) {
    s[I_file_state[slot]] = q->st;
    s[I_file_has_memfd[slot]] = q->memfd >= 0; s[I_file_memfd[slot]] = q->memfd > 0 ? q->memfd : 0;
    s[I_file_has_ser[slot]] = q->ser >= 0; s[I_file_ser[slot]] = q->ser > 0 ? q->ser : 0;
    for (int p = 0; p < P; p++) s[I_file_folio[slot][p]] = q->fo[p];
    s[I_file_handle[slot]] = q->handle; s[I_file_tried[slot]] = q->tried;
    /* model/symbolic.py _expect_pages: the folios' pages when there is one value per
       folio, else the first pages */
    int k = 0;
    if (nfolios(q->fo) > 0 && nfolios(q->fo) == q->nexp) {
      for (int p = 0; p < P; p++) if (q->fo[p]) {
        s[I_file_expect_known[slot][p]] = 1; s[I_file_expect[slot][p]] = q->exp[k++]; }
    } else {
      for (int p = 0; p < q->nexp; p++) {
        s[I_file_expect_known[slot][p]] = 1; s[I_file_expect[slot][p]] = q->exp[p]; }
    }
  }
  if (e) {
    s[I_snapshot_has_ser[slot]] = e->ser >= 0; s[I_snapshot_ser[slot]] = e->ser > 0 ? e->ser : 0;
    for (int p = 0; p < P; p++) s[I_snapshot_folio[slot][p]] = e->fo[p];
    s[I_snapshot_handle[slot]] = e->handle;
  }
}

static int same_entry(const Ent *e, const Fil *q) {
  return e->ser == q->ser && e->handle == q->handle && !memcmp(e->fo, q->fo, P);
}

/* model/symbolic.py encode */
static void to_slots(const X *x, sc *s) {
  memset(s, 0, W);
  s[I_kexecs] = x->g[0]; s[I_phase] = x->g[1]; s[I_faults] = x->g[2];
  s[I_rebooting] = x->g[3]; s[I_device] = x->g[4]; s[I_deser] = x->g[5];
  for (int p = 0; p < P; p++) {
    s[I_owner[p]] = x->pg[p][0]; s[I_kho_tracked[p]] = x->pg[p][1];
    s[I_stamped[p]] = x->pg[p][2]; s[I_content[p]] = x->pg[p][3];
  }
  for (int m = 0; m < M; m++) {
    s[I_memfd_alive[m]] = x->ma[m];
    if (!x->ma[m]) continue;
    s[I_memfd_user_fd[m]] = x->mu[m];
    for (int p = 0; p < P; p++) s[I_memfd_folio[m][p]] = x->mfo[m][p];
  }
  int seq = 0, v = 0, slot = 0;
  for (int li = 0; li < 2; li++)
    for (int i = 0; i < x->nl[li]; i++, v++) {
      const Ses *z = &x->s[li][i];
      s[I_session_exists[v]] = 1; s[I_session_status[v]] = z->status;
      s[I_session_seq[v]] = (sc)seq++;
      s[I_session_has_block[v]] = z->fblk >= 0; s[I_session_block[v]] = z->fblk > 0 ? z->fblk : 0;
      s[I_session_frozen[v]] = z->frozen; s[I_session_vetoed[v]] = z->vetoed;
      s[I_session_snapshot[v]] = z->snap;
      if (z->snap) {
        s[I_snapshot_has_block[v]] = z->sfblk >= 0;
        s[I_snapshot_block[v]] = z->sfblk > 0 ? z->sfblk : 0;
      }
      int used[NF] = {0};
      for (int j = 0; j < z->nf; j++) {
        const Ent *e = z->snap && j < z->nse && same_entry(&z->e[j], &z->f[j]) ? &z->e[j] : 0;
        if (e) used[j] = 1;
        put_file(s, slot++, v, seq++, &z->f[j], e);
      }
      if (z->snap)
        for (int j = 0; j < z->nse; j++)
          if (!used[j]) put_file(s, slot++, v, seq++, 0, &z->e[j]);
    }
  for (; slot < NF; slot++) { s[I_file_state[slot]] = PRESERVED_ST; }
  s[I_seq] = (sc)seq;
}

/* ---------------------------------------------------------------- canonical form */
/* Order-preserving byte encodings of Python tuples of small ints: an element is 1 then
   its value (+128) or its own tuple; a tuple ends with 0. Encodings of tuples compare
   with memcmp as the tuples compare in Python (a proper prefix is smaller). */
typedef struct { unsigned char b[16 * (2 * NS + 2 * NF * (1 + P) + M * P + 8) + 512]; int n; } Kb;
static void kb_int(Kb *k, int v) { k->b[k->n++] = 1; k->b[k->n++] = (unsigned char)(v + 128); }
static void kb_open(Kb *k) { k->b[k->n++] = 1; }
static void kb_close(Kb *k) { k->b[k->n++] = 0; }
static int kb_cmp(const Kb *a, const Kb *b) {
  int n = a->n < b->n ? a->n : b->n, c = memcmp(a->b, b->b, (size_t)n);
  return c ? c : a->n - b->n;
}
static void stable_sort(int *idx, int n, const Kb *keys) {
  for (int i = 1; i < n; i++) {
    int a = idx[i], j = i;
    while (j > 0 && kb_cmp(&keys[idx[j - 1]], &keys[a]) > 0) { idx[j] = idx[j - 1]; j--; }
    idx[j] = a;
  }
}

static void k_page(Kb *k, const X *x, int p) {  /* pages[p], the 5-tuple */
  kb_open(k);
  for (int i = 0; i < 4; i++) kb_int(k, x->pg[p][i]);
  kb_int(k, 0);
  kb_close(k);
}
static void k_pkey(Kb *k, const X *x, int p) {
  if (p >= 0) { k_page(k, x, p); return; }
  kb_open(k); kb_int(k, -1); kb_close(k);
}
static void k_pages_of(Kb *k, const X *x, const sc *fo) {
  kb_open(k);
  for (int p = 0; p < P; p++) if (fo[p]) k_page(k, x, p);
  kb_close(k);
}
static void k_mkey(Kb *k, const X *x, int m) {
  kb_open(k);
  if (m < 0 || !x->ma[m]) kb_int(k, -1);
  else { kb_int(k, x->mu[m]); k_pages_of(k, x, x->mfo[m]); }
  kb_close(k);
}
static void k_fkey(Kb *k, const X *x, const Fil *f) {
  kb_open(k);
  kb_int(k, f->st); kb_int(k, f->handle); kb_int(k, f->tried);
  kb_open(k); for (int i = 0; i < f->nexp; i++) kb_int(k, f->exp[i]); kb_close(k);
  k_pkey(k, x, f->ser);
  k_pages_of(k, x, f->fo);
  k_mkey(k, x, f->memfd);
  kb_close(k);
}
static void k_skey(Kb *k, const X *x, const Ses *z) {
  kb_open(k);
  kb_int(k, z->status); kb_int(k, z->frozen); kb_int(k, z->vetoed);
  k_pkey(k, x, z->fblk);
  kb_open(k); for (int j = 0; j < z->nf; j++) k_fkey(k, x, &z->f[j]); kb_close(k);
  kb_int(k, !z->snap);
  kb_close(k);
}

/* roles in which something names a page: (kind, ...) tuples of 3 to 5 ints */
#define MAXROLES (2 * NS + 2 * NF * (1 + P) + M * P + 8)
#define KB (16 * MAXROLES + 512)
typedef struct { sc r[5]; } Role;
typedef struct { Role r[MAXROLES]; int n; } Roles;
static int role_len(int kind) {
  static const int len[7] = {3, 3, 4, 5, 3, 4, 5};
  return len[kind];
}
static void role(Roles *rs, int kind, int a, int b, int c, int d) {
  Role *r = &rs->r[rs->n++];
  r->r[0] = (sc)kind; r->r[1] = (sc)a; r->r[2] = (sc)b; r->r[3] = (sc)c; r->r[4] = (sc)d;
}
static int role_cmp(const Role *a, const Role *b) {  /* Python tuple order */
  int la = role_len(a->r[0]), lb = role_len(b->r[0]), n = la < lb ? la : lb;
  for (int i = 0; i < n; i++) if (a->r[i] != b->r[i]) return a->r[i] - b->r[i];
  return la - lb;
}
/* the sorted list of a page's role tuples, as a list encoding */
static void k_roles(Kb *k, const Roles *rs) {
  int idx[MAXROLES];
  for (int i = 0; i < rs->n; i++) {
    int a = i, j = i;
    while (j > 0 && role_cmp(&rs->r[idx[j - 1]], &rs->r[a]) > 0) { idx[j] = idx[j - 1]; j--; }
    idx[j] = a;
  }
  kb_open(k);
  for (int i = 0; i < rs->n; i++) {
    const Role *r = &rs->r[idx[i]];
    kb_open(k);
    for (int j = 0; j < role_len(r->r[0]); j++) kb_int(k, r->r[j]);
    kb_close(k);
  }
  kb_close(k);
}

static void canon_into(const X *x, X *y, Roles *roles) {
  /* 1. incoming files and sessions sorted (kept in serialized order until the first
     open deserializes them: state.canonical_map's ``ordered``) */
  X t = *x;
  Kb keys[NF > NS ? NF : NS]; int idx[NF > NS ? NF : NS];
  const int ordered = x->g[5] == DESER_PENDING;
  for (int i = 0; i < t.nl[1] && !ordered; i++) {
    Ses *z = &t.s[1][i];
    for (int j = 0; j < z->nf; j++) { keys[j].n = 0; k_fkey(&keys[j], x, &z->f[j]); idx[j] = j; }
    stable_sort(idx, z->nf, keys);
    Fil tmp[NF];
    for (int j = 0; j < z->nf; j++) tmp[j] = z->f[idx[j]];
    memcpy(z->f, tmp, sizeof(Fil) * (size_t)z->nf);
  }
  for (int i = 0; i < t.nl[1]; i++) { keys[i].n = 0; k_skey(&keys[i], x, &t.s[1][i]); idx[i] = i; }
  if (!ordered) stable_sort(idx, t.nl[1], keys);
  Ses sorted[NS];
  for (int i = 0; i < t.nl[1]; i++) sorted[i] = t.s[1][idx[i]];
  memcpy(t.s[1], sorted, sizeof(Ses) * (size_t)t.nl[1]);
  /* 2. roles */
  for (int p = 0; p < P; p++) roles[p].n = 0;
  int refs[M][NS * NF * 2][3], nrefs[M] = {0};
  for (int li = 0; li < 2; li++)
    for (int si = 0; si < t.nl[li]; si++) {
      const Ses *z = &t.s[li][si];
      if (z->fblk >= 0) role(&roles[z->fblk], 1, li, si, 0, 0);
      for (int fi = 0; fi < z->nf; fi++) {
        const Fil *f = &z->f[fi];
        if (f->memfd >= 0) {
          int *r = refs[f->memfd][nrefs[f->memfd]++]; r[0] = li; r[1] = si; r[2] = fi; }
        if (f->ser >= 0) role(&roles[f->ser], 2, li, si, fi, 0);
        int k = 0;
        for (int p = 0; p < P; p++) if (f->fo[p]) role(&roles[p], 3, li, si, fi, k++);
      }
      if (z->snap) {
        if (z->sfblk >= 0) role(&roles[z->sfblk], 4, li, si, 0, 0);
        for (int j = 0; j < z->nse; j++) {
          const Ent *e = &z->e[j];
          if (e->ser >= 0) role(&roles[e->ser], 5, li, si, j, 0);
          int k = 0;
          for (int p = 0; p < P; p++) if (e->fo[p]) role(&roles[p], 6, li, si, j, k++);
        }
      }
    }
  /* 3. memfds by (mkey, sorted refs, [sorted roles of each folio]) */
  int live[M], nlive = 0;
  Kb mk[M];
  for (int m = 0; m < M; m++) {
    if (!t.ma[m]) continue;
    live[nlive++] = m;
    Kb *k = &mk[m]; k->n = 0; kb_open(k);
    k_mkey(k, &t, m);
    /* refs are appended in (li, si, fi) order: already sorted */
    kb_open(k);
    for (int r = 0; r < nrefs[m]; r++) {
      kb_open(k); for (int c = 0; c < 3; c++) kb_int(k, refs[m][r][c]); kb_close(k); }
    kb_close(k);
    kb_open(k);
    for (int p = 0; p < P; p++) if (t.mfo[m][p]) k_roles(k, &roles[p]);
    kb_close(k);
    kb_close(k);
  }
  stable_sort(live, nlive, mk);
  /* 4. pages by (attributes, sorted roles) */
  for (int nw = 0; nw < nlive; nw++) {
    int k = 0;
    for (int p = 0; p < P; p++) if (t.mfo[live[nw]][p]) role(&roles[p], 0, nw, k++, 0, 0);
  }
  Kb pk[P]; int order[P];
  for (int p = 0; p < P; p++) {
    Kb *k = &pk[p]; k->n = 0; kb_open(k); k_page(k, &t, p); k_roles(k, &roles[p]); kb_close(k);
    order[p] = p;
  }
  stable_sort(order, P, pk);
  int pmap[P], mmap[M];
  for (int i = 0; i < P; i++) pmap[order[i]] = i;
  for (int i = 0; i < nlive; i++) mmap[live[i]] = i;
  int nfree = nlive;
  for (int m = 0; m < M; m++) if (!t.ma[m]) mmap[m] = nfree++;
  /* relabel (model/state.py relabel) */
  memset(y, 0, sizeof *y);
  memcpy(y->g, t.g, NG);
  for (int p = 0; p < P; p++) memcpy(y->pg[pmap[p]], t.pg[p], 4);
#define RP(v) ((v) >= 0 ? (sc)pmap[(int)(v)] : (v))
#define RFO(dst, src) do { memset(dst, 0, P); for (int p_ = 0; p_ < P; p_++) if ((src)[p_]) (dst)[pmap[p_]] = 1; } while (0)
  for (int m = 0; m < M; m++) {
    if (!t.ma[m]) continue;
    int n = mmap[m]; y->ma[n] = 1; y->mu[n] = t.mu[m]; RFO(y->mfo[n], t.mfo[m]);
  }
  y->nl[0] = t.nl[0]; y->nl[1] = t.nl[1];
  for (int li = 0; li < 2; li++)
    for (int si = 0; si < t.nl[li]; si++) {
      const Ses *a = &t.s[li][si]; Ses *b = &y->s[li][si];
      *b = *a;
      b->fblk = RP(a->fblk); b->sfblk = RP(a->sfblk);
      for (int fi = 0; fi < a->nf; fi++) {
        b->f[fi].memfd = a->f[fi].memfd >= 0 ? (sc)mmap[(int)a->f[fi].memfd] : a->f[fi].memfd;
        b->f[fi].ser = RP(a->f[fi].ser);
        RFO(b->f[fi].fo, a->f[fi].fo);
      }
      for (int j = 0; j < a->nse; j++) {
        b->e[j].ser = RP(a->e[j].ser);
        RFO(b->e[j].fo, a->e[j].fo);
      }
    }
}

/* ---------------------------------------------------------------- packing */
/* The explicit state, field by field in model/state.py order, one nibble per value in
   -1..13 (value + 1), else 15 and two nibbles (value + 128). Returns bytes used, the
   first byte being the count of nibbles that follow it. */
typedef struct { unsigned char *b; int n; } Nb;
static void nb_put(Nb *o, int v) {
  if ((o->n & 1) == 0) o->b[o->n >> 1] = (unsigned char)v; else o->b[o->n >> 1] |= (unsigned char)(v << 4);
  o->n++;
}
static void nb_val(Nb *o, int v) {
  if (v >= -1 && v <= 13) nb_put(o, v + 1);
  else { nb_put(o, 15); nb_put(o, (v + 128) & 15); nb_put(o, (v + 128) >> 4); }
}
static void nb_set(Nb *o, const sc *fo) { for (int p = 0; p < P; p++) nb_put(o, fo[p]); }

#define PACKMAX (16 + (4 * P + M * (2 + P) + 2 + 2 * NS * (8 + NF * (8 + 2 * P) + NF * (2 + P))) * 3 / 2 + 8)

static int pack(const X *x, unsigned char *out) {
  Nb o = {out + 1, 0};
  memset(out, 0, PACKMAX);
  for (int i = 0; i < NG; i++) nb_val(&o, x->g[i]);
  for (int p = 0; p < P; p++) for (int i = 0; i < 4; i++) nb_val(&o, x->pg[p][i]);
  for (int m = 0; m < M; m++) {
    nb_put(&o, x->ma[m]);
    if (x->ma[m]) { nb_put(&o, x->mu[m]); nb_set(&o, x->mfo[m]); }
  }
  for (int li = 0; li < 2; li++) {
    nb_val(&o, x->nl[li]);
    for (int si = 0; si < x->nl[li]; si++) {
      const Ses *z = &x->s[li][si];
      nb_val(&o, z->status); nb_val(&o, z->fblk); nb_put(&o, z->frozen); nb_put(&o, z->vetoed);
      nb_val(&o, z->nf);
      for (int fi = 0; fi < z->nf; fi++) {
        const Fil *f = &z->f[fi];
        nb_val(&o, f->st); nb_val(&o, f->memfd); nb_val(&o, f->ser); nb_set(&o, f->fo);
        nb_put(&o, f->handle); nb_put(&o, f->tried); nb_val(&o, f->nexp);
        for (int i = 0; i < f->nexp; i++) nb_val(&o, f->exp[i]);
      }
      nb_put(&o, z->snap);
      if (z->snap) {
        nb_val(&o, z->sfblk); nb_val(&o, z->nse);
        for (int j = 0; j < z->nse; j++) {
          nb_val(&o, z->e[j].ser); nb_set(&o, z->e[j].fo); nb_put(&o, z->e[j].handle);
        }
      }
    }
  }
  out[0] = (unsigned char)o.n;
  return 1 + (o.n + 1) / 2;
}

typedef struct { const unsigned char *b; int n; } Nr;
static int nr_get(Nr *r) { int v = (r->b[r->n >> 1] >> ((r->n & 1) * 4)) & 15; r->n++; return v; }
static sc nr_val(Nr *r) {
  int v = nr_get(r);
  if (v < 15) return (sc)(v - 1);
  int lo = nr_get(r), hi = nr_get(r);
  return (sc)((lo | (hi << 4)) - 128);
}
static void nr_set(Nr *r, sc *fo) { for (int p = 0; p < P; p++) fo[p] = (sc)nr_get(r); }

static void unpack(const unsigned char *in, X *x) {
  Nr r = {in + 1, 0};
  memset(x, 0, sizeof *x);
  for (int i = 0; i < NG; i++) x->g[i] = nr_val(&r);
  for (int p = 0; p < P; p++) for (int i = 0; i < 4; i++) x->pg[p][i] = nr_val(&r);
  for (int m = 0; m < M; m++) {
    x->ma[m] = (sc)nr_get(&r);
    if (x->ma[m]) { x->mu[m] = (sc)nr_get(&r); nr_set(&r, x->mfo[m]); }
  }
  for (int li = 0; li < 2; li++) {
    x->nl[li] = nr_val(&r);
    for (int si = 0; si < x->nl[li]; si++) {
      Ses *z = &x->s[li][si];
      z->status = nr_val(&r); z->fblk = nr_val(&r); z->frozen = (sc)nr_get(&r);
      z->vetoed = (sc)nr_get(&r); z->nf = nr_val(&r);
      for (int fi = 0; fi < z->nf; fi++) {
        Fil *f = &z->f[fi];
        f->st = nr_val(&r); f->memfd = nr_val(&r); f->ser = nr_val(&r); nr_set(&r, f->fo);
        f->handle = (sc)nr_get(&r); f->tried = (sc)nr_get(&r); f->nexp = nr_val(&r);
        for (int i = 0; i < f->nexp; i++) f->exp[i] = nr_val(&r);
      }
      z->snap = (sc)nr_get(&r);
      if (z->snap) {
        z->sfblk = nr_val(&r); z->nse = nr_val(&r);
        for (int j = 0; j < z->nse; j++) {
          z->e[j].ser = nr_val(&r); nr_set(&r, z->e[j].fo); z->e[j].handle = (sc)nr_get(&r);
        }
      }
    }
  }
}

/* ---------------------------------------------------------------- the search */
/* One search per loaded library (checks/engine.py loads a fresh copy per run). States
   are numbered in discovery order; the queue is the index range (checks/explore.py
   _bfs). Per state: its packed key (arena + offset), parent, the instance that led to it,
   depth, flags. The visited set is an open-addressing table of state numbers + 1. */
#define NPROP (NA + NST)
#define RETN 512  /* return values -256..255 */
enum { PRUNED = 1, BAD_STATE = 2 };

static unsigned char *arena; static uint64_t arena_len, arena_cap;
static uint64_t *off; static int32_t *par; static int16_t *via; static uint16_t *dep;
static uint8_t *flg; static uint32_t *tab; static uint64_t tcap, n_states, st_cap;
static int64_t n_trans;
static int64_t enabled[NK], fired[NK][RETN], newst[NK][RETN];
static int64_t wit_state[NPROP];
static int64_t *ev; static int64_t n_ev, ev_cap;      /* violation events: prop, state, inst */
/* the graph, for the graph properties: per expanded state its first edge and count,
   per edge the state it reaches (4 bytes an edge; edges of one expansion are adjacent) */
static uint32_t *e_dst; static int64_t *e_first; static uint16_t *e_count;
static int64_t n_edge, edge_cap;
static int g_keep;
static int32_t *revived; static int64_t n_rev;
static int max_depth;

static uint64_t hash(const unsigned char *p, int n) {
  uint64_t h = 1469598103934665603ULL;
  for (int i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
  return h ^ (h >> 29);
}
static int keylen(const unsigned char *k) { return 1 + (k[0] + 1) / 2; }

static int grow(void **p, uint64_t n, size_t each) {
  void *q = realloc(*p, n * each);
  if (!q) return -1;
  *p = q; return 0;
}

static int64_t lookup(const unsigned char *k, int len, uint64_t h) {
  for (uint64_t i = h & (tcap - 1);; i = (i + 1) & (tcap - 1)) {
    uint32_t j = tab[i];
    if (!j) return -(int64_t)i - 1;
    const unsigned char *o = arena + off[j - 1];
    if (keylen(o) == len && !memcmp(o, k, (size_t)len)) return j - 1;
  }
}

static int rehash(void) {
  uint64_t ncap = tcap * 2;
  uint32_t *nt = calloc(ncap, sizeof *nt);
  if (!nt) return -1;
  for (uint64_t j = 0; j < n_states; j++) {
    const unsigned char *o = arena + off[j];
    for (uint64_t i = hash(o, keylen(o)) & (ncap - 1);; i = (i + 1) & (ncap - 1))
      if (!nt[i]) { nt[i] = (uint32_t)(j + 1); break; }
  }
  free(tab); tab = nt; tcap = ncap; return 0;
}

static int64_t add_state(const unsigned char *k, int len, int64_t slot, int32_t parent,
                         int16_t inst, int depth) {
  if (n_states == st_cap) {
    st_cap = st_cap ? st_cap * 2 : 1 << 16;
    if (grow((void **)&off, st_cap, 8) || grow((void **)&par, st_cap, 4) ||
        grow((void **)&via, st_cap, 2) || grow((void **)&dep, st_cap, 2) ||
        grow((void **)&flg, st_cap, 1)) return -1;
    if (g_keep && (grow((void **)&e_first, st_cap, 8) || grow((void **)&e_count, st_cap, 2)))
      return -1;
  }
  if (arena_len + (uint64_t)len > arena_cap) {
    arena_cap = arena_cap ? arena_cap * 2 : 1 << 22;
    if (grow((void **)&arena, arena_cap, 1)) return -1;
  }
  memcpy(arena + arena_len, k, (size_t)len);
  uint64_t j = n_states++;
  off[j] = arena_len; arena_len += (uint64_t)len;
  par[j] = parent; via[j] = inst; dep[j] = (uint16_t)depth; flg[j] = 0;
  if (g_keep) { e_first[j] = -1; e_count[j] = 0; }
  if (depth > max_depth) max_depth = depth;
  tab[slot] = (uint32_t)(j + 1);
  if (n_states * 2 > tcap && rehash()) return -1;
  return (int64_t)j;
}

static int event(int prop, int64_t state, int inst) {
  if (n_ev == ev_cap) {
    ev_cap = ev_cap ? ev_cap * 2 : 4096;
    if (grow((void **)&ev, ev_cap * 3, 8)) return -1;
  }
  ev[3 * n_ev] = prop; ev[3 * n_ev + 1] = state; ev[3 * n_ev + 2] = inst; n_ev++;
  if (wit_state[prop] < 0) wit_state[prop] = state;
  return 0;
}

static int edge(int64_t d) {
  if (n_edge == edge_cap) {
    edge_cap = edge_cap ? edge_cap * 2 : 1 << 16;
    if (grow((void **)&e_dst, edge_cap, 4)) return -1;
  }
  e_dst[n_edge++] = (uint32_t)d;
  return 0;
}

static int found(int prop) { return wit_state[prop] >= 0; }
static int n_found(void) { int n = 0; for (int i = 0; i < NPROP; i++) n += found(i); return n; }

/* checks whether to go on, every 4096 expansions: returns nonzero to stop */
typedef int (*tick_fn)(int64_t states, int64_t queued, int depth);

/* The search from the initial slot state. ``live`` masks the properties checked (bit i:
   state property i, bit NA + j: step property j). Returns 0 complete, 1 over max_states,
   2 stopped by tick, 3 stopped at the first violation, 4 every property violated,
   -1 out of memory. */
static void reset(void) {
  free(arena); free(off); free(par); free(via); free(dep); free(flg); free(tab); free(ev);
  free(e_dst); free(e_first); free(e_count); free(revived);
  arena = 0; off = 0; par = 0; via = 0; dep = 0; flg = 0; tab = 0; ev = 0;
  e_dst = 0; e_first = 0; e_count = 0; revived = 0;
  arena_len = arena_cap = tcap = n_states = st_cap = 0; n_trans = n_ev = ev_cap = 0;
  n_edge = edge_cap = n_rev = 0; max_depth = 0;
  memset(enabled, 0, sizeof enabled); memset(fired, 0, sizeof fired);
  memset(newst, 0, sizeof newst);
}

/* ---- expansion: the successors of one stored state, as records. Pure (reads the
   visited set, writes nothing shared), so threads expand disjoint states at once. */
typedef struct {
  int16_t inst, ret;
  int64_t sbits;   /* step-property bits */
  int64_t dst;     /* the state reached if it was known when expanded, else -1 */
  uint64_t h;      /* for an unknown state: hash of its key */
  int64_t koff;    /* for an unknown state: its key in the buffer's bytes */
  int64_t abits;   /* for an unknown state: its state-property bits */
} Rec;
typedef struct {
  Rec *r; int64_t nr, cr;
  unsigned char *k; int64_t nk, ck;
  int64_t *first;  /* per expanded state of the chunk: its first record */
  /* the unknown states this buffer already holds (record number + 1; 0 empty): a
     state reached again in the same chunk shares the first record's key and bits */
  int64_t *seen; int64_t seen_cap, seen_n;
  int oom;
  Roles roles[P];
} Buf;

static void seen_clear(Buf *b) {
  if (b->seen) memset(b->seen, 0, (size_t)b->seen_cap * 8);
  b->seen_n = 0;
}

/* the record of an earlier occurrence of key k in b, or -1; else insert record ri */
static int64_t seen_find_or_add(Buf *b, const unsigned char *k, int len, uint64_t h,
                                int64_t ri) {
  if ((b->seen_n + 1) * 2 > b->seen_cap) {
    int64_t ncap = b->seen_cap ? b->seen_cap * 2 : 1 << 12;
    int64_t *nt = calloc((size_t)ncap, 8);
    if (!nt) { b->oom = 1; return -1; }
    for (int64_t i = 0; i < b->seen_cap; i++) if (b->seen[i]) {
      uint64_t j = b->r[b->seen[i] - 1].h & (uint64_t)(ncap - 1);
      while (nt[j]) j = (j + 1) & (uint64_t)(ncap - 1);
      nt[j] = b->seen[i];
    }
    free(b->seen); b->seen = nt; b->seen_cap = ncap;
  }
  uint64_t j = h & (uint64_t)(b->seen_cap - 1);
  for (; b->seen[j]; j = (j + 1) & (uint64_t)(b->seen_cap - 1)) {
    const Rec *o = &b->r[b->seen[j] - 1];
    const unsigned char *ok = b->k + o->koff;
    if (o->h == h && keylen(ok) == len && !memcmp(ok, k, (size_t)len)) return b->seen[j] - 1;
  }
  b->seen[j] = ri + 1; b->seen_n++;
  return -1;
}

static int symmetry_on;

static void *bump(void **p, int64_t *cap, int64_t need, size_t each) {
  if (need <= *cap) return *p;
  int64_t c = *cap ? *cap : 1024;
  while (c < need) c *= 2;
  void *q = realloc(*p, (size_t)c * each);
  if (!q) return 0;
  *p = q; *cap = c; return q;
}

static void expand(int64_t cur, Buf *b) {
  X x, y; sc s[W], o[W]; unsigned char k[PACKMAX];
  unpack(arena + off[cur], &x);
  to_slots(&x, s);
  /* with symmetry, one alloc_pages / free_pages per class of (page, referenced), as
     model/luo.py LuoModel.actions offers them */
  int ref[P], nclass[3] = {0, 0, 0}, cls[3][P][5];
  if (symmetry_on) referenced(s, ref);
  for (int i = 0; i < NI; i++) {
    int ret = 0;
    int64_t sbits = inst(i, s, o, &ret);
    if (sbits < 0) continue;
    if (symmetry_on && INST_PAGE_KIND[i]) {
      int pk = INST_PAGE_KIND[i], p = INST_PAGE[i], key[5] = {
        s[I_owner[p]], s[I_kho_tracked[p]], s[I_stamped[p]], s[I_content[p]], ref[p]}, dup = 0;
      for (int c = 0; c < nclass[pk] && !dup; c++) dup = !memcmp(cls[pk][c], key, sizeof key);
      if (dup) continue;
      memcpy(cls[pk][nclass[pk]++], key, sizeof key);
    }
    if (!bump((void **)&b->r, &b->cr, b->nr + 1, sizeof(Rec))) { b->oom = 1; return; }
    Rec *r = &b->r[b->nr++];
    r->inst = (int16_t)i; r->ret = (int16_t)ret; r->sbits = sbits;
    if (!memcmp(o, s, W)) { r->dst = cur; continue; }  /* the same state: itself */
    from_slots(o, &x);
    if (symmetry_on) { canon_into(&x, &y, b->roles); x = y; }
    int len = pack(&x, k);
    r->h = hash(k, len);
    int64_t d = lookup(k, len, r->h);
    r->dst = d >= 0 ? d : -1;
    if (d >= 0) continue;
    if (!bump((void **)&b->k, &b->ck, b->nk + len, 1)) { b->oom = 1; return; }
    r->koff = b->nk; memcpy(b->k + b->nk, k, (size_t)len); b->nk += len;
    int64_t twin = seen_find_or_add(b, k, len, r->h, b->nr - 1);
    if (twin >= 0) {  /* reached before in this chunk: the same key and bits */
      b->nk -= len; r->koff = b->r[twin].koff; r->abits = b->r[twin].abits;
    } else {
      r->abits = always(o);
    }
  }
}

/* ---- the search: the queue is cut into chunks; threads expand a chunk's states
   (phase A, in parallel), then one thread takes their records in queue order (phase B)
   exactly as a one-thread search would, so the result does not depend on the number
   of threads. A state revived inside a chunk is expanded right there, as checks/explore.py
   _bfs does (a stack). */
#define CHUNK 8192
#define MAXT 8
typedef struct { const int64_t *q; int64_t lo, hi; Buf *b; } Job;
static void *run_job(void *arg) {
  Job *j = arg;
  seen_clear(j->b);
  for (int64_t a = j->lo; a < j->hi && !j->b->oom; a++) {
    j->b->first[a - j->lo] = j->b->nr;
    expand(j->q[a], j->b);
  }
  return 0;
}

static int64_t g_live; static int g_prune;

/* phase B for one expanded state's records; returns -1 on out of memory */
static int take(int64_t cur, const Buf *b, int64_t r0, int64_t r1) {
  int seen[NK] = {0};
  int depth = dep[cur];
  for (int64_t t = r0; t < r1; t++) {
    const Rec *r = &b->r[t];
    int i = r->inst, kind = INST_KIND[i];
    if (!seen[kind]) { seen[kind] = 1; enabled[kind]++; }
    n_trans++;
    int bad = 0;
    for (int p = 0; p < NST; p++)
      if ((r->sbits >> p & 1) && (g_live >> (NA + p) & 1) && (g_prune || !found(NA + p))) {
        bad = 1;
        if (event(NA + p, cur, i)) return -1;
      }
    int64_t dst = r->dst;
    const unsigned char *k = b->k + r->koff;
    int len = dst >= 0 ? 0 : keylen(k);
    if (dst < 0) dst = lookup(k, len, r->h);
    fired[kind][r->ret + 256]++;
    if (dst < 0) {
      dst = add_state(k, len, -(dst + 1), (int32_t)cur, (int16_t)i, depth + 1);
      if (dst < 0) return -1;
      newst[kind][r->ret + 256]++;
      int abits = (int)(r->abits & g_live);
      for (int p = 0; p < NA; p++)
        if ((abits >> p & 1) && (g_prune || !found(p))) {
          bad = 1; flg[dst] |= BAD_STATE;
          if (event(p, dst, -1)) return -1;
        }
      if (bad && g_prune) flg[dst] |= PRUNED;
    } else if (!bad && (flg[dst] & PRUNED) && !(flg[dst] & BAD_STATE)) {
      flg[dst] &= (uint8_t)~PRUNED;
      if (dst < cur) {
        if (grow((void **)&revived, (uint64_t)n_rev + 1, 4)) return -1;
        revived[n_rev++] = (int32_t)dst;
      }
    }
    if (g_keep && edge(dst)) return -1;
  }
  if (g_keep) { e_first[cur] = n_edge - (r1 - r0); e_count[cur] = (uint16_t)(r1 - r0); }
  return 0;
}

static Buf bufs[MAXT + 1];

/* The search from the initial slot state with ``threads`` threads (1..8). ``live``
   masks the properties checked (bit i: state property i, bit NA + j: step property j).
   Returns 0 complete, 1 over max_states, 2 stopped by tick, 3 stopped at the first
   violation, 4 every property violated, -1 out of memory. */
int search(const sc *init, int64_t live, int prune, int symmetry, int64_t max_states,
           int keep_graph, int stop_at_first, int stop_when_all, tick_fn tick, int threads) {
  reset();
  if (threads < 1) threads = 1;
  if (threads > MAXT) threads = MAXT;
  g_live = live; g_prune = prune; g_keep = keep_graph; symmetry_on = symmetry;
  tcap = 1 << 12; tab = calloc(tcap, sizeof *tab);
  if (!tab) return -1;
  for (int i = 0; i < NPROP; i++) wit_state[i] = -1;
  unsigned char k[PACKMAX]; sc s[W]; X x, y;
  from_slots(init, &x);
  if (symmetry) { canon_into(&x, &y, bufs[0].roles); x = y; }
  int len = pack(&x, k);
  int64_t slot = lookup(k, len, hash(k, len));
  if (add_state(k, len, -(slot + 1), -1, -1, 0) < 0) return -1;
  to_slots(&x, s);
  {
    int bits = (int)(always(s) & live);
    for (int p = 0; p < NA; p++) if (bits >> p & 1) {
      if (event(p, 0, -1)) return -1;
      flg[0] |= BAD_STATE | (prune ? PRUNED : 0);
    }
  }
  static int64_t q[CHUNK], firsts[MAXT][CHUNK];
  int64_t nxt = 0, expanded = 0;
  int rc = 0;
  for (int t = 0; t <= MAXT; t++) { bufs[t].nr = bufs[t].nk = 0; bufs[t].oom = 0; }
  while (nxt < (int64_t)n_states || n_rev > 0) {
    /* phase A: the next chunk of the queue (not pruned now), split among threads */
    int64_t nq = 0;
    for (int64_t a = nxt; a < (int64_t)n_states && nq < CHUNK; a++)
      if (!(flg[a] & PRUNED)) q[nq++] = a;
    int64_t end = nq ? q[nq - 1] + 1 : (int64_t)n_states;
    int nt = nq >= 64 * threads ? threads : 1;
    Job jobs[MAXT]; pthread_t tid[MAXT];
    for (int t = 0; t < nt; t++) {
      bufs[t].nr = bufs[t].nk = 0; bufs[t].first = firsts[t];
      jobs[t] = (Job){q, nq * t / nt, nq * (t + 1) / nt, &bufs[t]};
    }
    for (int t = 1; t < nt; t++) pthread_create(&tid[t], 0, run_job, &jobs[t]);
    if (nt > 0 && nq > 0) run_job(&jobs[0]);
    for (int t = 1; t < nt; t++) pthread_join(tid[t], 0);
    for (int t = 0; t < nt; t++) if (bufs[t].oom) return -1;
    /* phase B: in queue order, as one thread would */
    int64_t a = 0;  /* position in q */
    int stop = 0;
    for (int64_t cur = nxt;; ) {
      if (n_rev == 0 && cur >= end) break;
      /* as checks/explore.py _bfs: the limit is checked before taking a state */
      if (max_states >= 0 && (int64_t)n_states >= max_states) { rc = 1; stop = 1; break; }
      int64_t me;
      if (n_rev > 0) me = revived[--n_rev];
      else {
        me = cur++;
        if (flg[me] & PRUNED) { nxt = cur; continue; }  /* (never in q) */
      }
      if ((expanded++ & 0xFFF) == 0 && tick &&
          tick((int64_t)n_states, (int64_t)n_states - cur, dep[me])) { rc = 2; stop = 1; break; }
      int ok;
      if (a < nq && q[a] == me) {  /* expanded in phase A */
        int t = 0; int64_t at = a;
        while (t < nt - 1 && at >= jobs[t].hi) t++;
        Buf *b = &bufs[t];
        int64_t r0 = b->first[at - jobs[t].lo];
        int64_t r1 = at + 1 < jobs[t].hi ? b->first[at + 1 - jobs[t].lo] : b->nr;
        ok = take(me, b, r0, r1);
        a++;
      } else {  /* revived, or no longer pruned: expand it now */
        Buf *b = &bufs[MAXT];
        b->nr = b->nk = 0;
        seen_clear(b);
        expand(me, b);
        if (b->oom) return -1;
        ok = take(me, b, 0, b->nr);
      }
      if (ok < 0) return -1;
      if (stop_at_first && n_found()) { rc = 3; stop = 1; break; }
      if (stop_when_all && n_found() >= __builtin_popcountll((unsigned long long)live)) {
        rc = 4; stop = 1; break;
      }
      nxt = cur;
    }
    if (stop) break;
    nxt = end > nxt ? end : nxt;
  }
  return rc;
}

/* ---------------------------------------------------------------- queries */
int64_t states(void) { return (int64_t)n_states; }
int64_t transitions(void) { return n_trans; }
int depth_max(void) { return max_depth; }
int state_slots(int64_t i, sc *out) { X x; unpack(arena + off[i], &x); to_slots(&x, out); return W; }
void tree(int32_t *parent, int16_t *inst, uint8_t *flags) {
  memcpy(parent, par, n_states * 4); memcpy(inst, via, n_states * 2); memcpy(flags, flg, n_states);
}
void coverage(int64_t *en, int64_t *fi, int64_t *ne) {
  memcpy(en, enabled, sizeof enabled); memcpy(fi, fired, sizeof fired); memcpy(ne, newst, sizeof newst);
}
int64_t events(int64_t *out) { if (out) memcpy(out, ev, (size_t)n_ev * 24); return n_ev; }
int64_t edges(void) { return n_edge; }
/* bytes the graph takes (0 when not kept) */
int64_t graph_bytes(void) { return g_keep ? n_edge * 4 + (int64_t)n_states * 10 : 0; }
int slot_width(void) { return W; }
/* what one stored state costs: its packed key, its offset, parent, instance, depth and
   flags, and its share of the hash table (4 bytes a slot); not the edges */
double bytes_per_state(void) {
  if (!n_states) return 0;
  return ((double)arena_len + (double)n_states * (8 + 4 + 2 + 2 + 1) + (double)tcap * 4)
         / (double)n_states;
}
/* AG EF goal: the first state (in number order) from which no goal state is reachable,
   or -1 (-2: out of memory); *stuck counts such states (checks/graphs.py
   check_graph_property). Backward search from the goals over the reversed edges. */
int64_t first_stuck(const char *goal, int64_t *stuck) {
  int64_t n = (int64_t)n_states;
  uint64_t *start = calloc((size_t)n + 1, 8), *fill = calloc((size_t)n + 1, 8);
  uint32_t *src = malloc((size_t)(n_edge ? n_edge : 1) * 4);
  uint32_t *queue = malloc((size_t)(n ? n : 1) * 4);
  char *ok = calloc((size_t)(n ? n : 1), 1);
  int64_t first = -2;
  if (!start || !fill || !src || !queue || !ok) goto out;
  for (int64_t e = 0; e < n_edge; e++) start[e_dst[e] + 1]++;
  for (int64_t i = 0; i < n; i++) start[i + 1] += start[i];
  for (int64_t i = 0; i < n; i++)
    for (int64_t e = e_first[i]; e >= 0 && e < e_first[i] + e_count[i]; e++) {
      uint32_t d = e_dst[e]; src[start[d] + fill[d]++] = (uint32_t)i;
    }
  int64_t qh = 0, qt = 0;
  for (int64_t i = 0; i < n; i++) if (goal[i]) { ok[i] = 1; queue[qt++] = (uint32_t)i; }
  while (qh < qt) {
    uint32_t d = queue[qh++];
    for (uint64_t k = start[d]; k < start[d + 1]; k++)
      if (!ok[src[k]]) { ok[src[k]] = 1; queue[qt++] = src[k]; }
  }
  first = -1; *stuck = 0;
  for (int64_t i = 0; i < n; i++) if (!ok[i]) { if (first < 0) first = i; (*stuck)++; }
out:
  free(start); free(fill); free(src); free(queue); free(ok);
  return first;
}
/* for the tests: instance ``i`` on slot state ``s`` (-1 when disabled, else step bits) */
int64_t step_slots(int i, const sc *s, sc *o, int *ret) { return inst(i, s, o, ret); }

/* Stored state i as model/state.py encode writes it (marshal version 2 of the nested
   tuples: '(' count, 'i' int32, 'N' None; little endian), so Python reads it with
   marshal.loads. Returns the bytes written. */
typedef struct { unsigned char *b; int n; } Mb;
static void m_u32(Mb *m, int v) { uint32_t u = (uint32_t)v; for (int i = 0; i < 4; i++) m->b[m->n++] = (unsigned char)(u >> (8 * i)); }
static void m_tup(Mb *m, int n) { m->b[m->n++] = '('; m_u32(m, n); }
static void m_int(Mb *m, int v) { m->b[m->n++] = 'i'; m_u32(m, v); }
static void m_set(Mb *m, const sc *fo) {
  int n = 0; for (int p = 0; p < P; p++) n += fo[p] != 0;
  m_tup(m, n); for (int p = 0; p < P; p++) if (fo[p]) m_int(m, p);
}
static int marshal_x(const X *xp, unsigned char *out) {
  const X x = *xp;
  Mb m = {out, 0};
  m_tup(&m, 5);
  m_tup(&m, NG); for (int k = 0; k < NG; k++) m_int(&m, x.g[k]);
  for (int li = 0; li < 2; li++) {
    m_tup(&m, x.nl[li]);
    for (int si = 0; si < x.nl[li]; si++) {
      const Ses *z = &x.s[li][si];
      m_tup(&m, 6);
      m_int(&m, z->status); m_int(&m, z->fblk); m_int(&m, z->frozen); m_int(&m, z->vetoed);
      m_tup(&m, z->nf);
      for (int fi = 0; fi < z->nf; fi++) {
        const Fil *f = &z->f[fi];
        m_tup(&m, 7);
        m_int(&m, f->st); m_int(&m, f->memfd); m_int(&m, f->ser); m_set(&m, f->fo);
        m_int(&m, f->handle); m_int(&m, f->tried);
        m_tup(&m, f->nexp); for (int k = 0; k < f->nexp; k++) m_int(&m, f->exp[k]);
      }
      if (!z->snap) m.b[m.n++] = 'N';
      else {
        m_tup(&m, 2); m_int(&m, z->sfblk); m_tup(&m, z->nse);
        for (int j = 0; j < z->nse; j++) {
          m_tup(&m, 3); m_int(&m, z->e[j].ser); m_set(&m, z->e[j].fo); m_int(&m, z->e[j].handle);
        }
      }
    }
  }
  m_tup(&m, M);
  for (int k = 0; k < M; k++) {
    if (!x.ma[k]) { m.b[m.n++] = 'N'; continue; }
    m_tup(&m, 2); m_int(&m, x.mu[k]); m_set(&m, x.mfo[k]);
  }
  m_tup(&m, P);
  for (int p = 0; p < P; p++) { m_tup(&m, 5); for (int k = 0; k < 4; k++) m_int(&m, x.pg[p][k]); m_int(&m, 0); }
  return m.n;
}
int state_marshal(int64_t i, unsigned char *out) {
  X x; unpack(arena + off[i], &x); return marshal_x(&x, out);
}

/* for the tests: a slot state read, packed, unpacked and written back (canonical form
   first when ``symmetry``); returns the bytes of its marshal form */
int roundtrip(const sc *in, sc *out, int symmetry, unsigned char *marshal_out) {
  X x, y; unsigned char k[PACKMAX]; static Roles roles[P];
  from_slots(in, &x);
  if (symmetry) { canon_into(&x, &y, roles); x = y; }
  int len = pack(&x, k);
  unpack(k, &y);
  to_slots(&y, out);
  (void)len;
  return marshal_x(&y, marshal_out);
}
