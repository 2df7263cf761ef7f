/* plot.c — line plots and training curves as PNG through PLplot's pngcairo
 * device (white background, black axes, a legend), and image grids (filters,
 * feature maps) written directly with libpng. PLplot is not thread-safe: plot
 * from one thread at a time. */
#include "io.h"
#include <errno.h>
#include <math.h>
#include <plplot/plplot.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

/* cmap0: 0 background (white), 1 axes (black), 2 grid (light gray), then a
 * palette of distinguishable line colours (Tableau 10). */
static const PLINT pal_r[] = {255, 0, 220, 31, 255, 44, 214, 148, 140, 227, 127, 188, 23};
static const PLINT pal_g[] = {255, 0, 220, 119, 127, 160, 39, 103, 86, 119, 127, 189, 190};
static const PLINT pal_b[] = {255, 0, 220, 180, 14, 44, 40, 189, 75, 194, 127, 34, 207};
#define PAL_N ((int)(sizeof pal_r / sizeof pal_r[0]))
#define PAL_FIRST 3

/* plexit() prints and calls exit() unless its handler leaves by longjmp;
 * plabort() is silenced per stream with plsError. */
static jmp_buf *plot_jmp;
static char plot_msg[256];
static int plot_exit_handler(const char *msg) {
    snprintf(plot_msg, sizeof plot_msg, "%s", msg ? msg : "");
    if (plot_jmp) longjmp(*plot_jmp, 1);
    return 1;
}

typedef struct {
    PLINT old_stream, stream;
    PLINT errcode;
    char errmsg[1024];
    bool open;
} plot_session;

/* Checks that path can be written (PLplot would exit otherwise), then opens a
 * fresh PLplot stream on it. */
static dc_status plot_begin(const char *fn, plot_session *ps, const char *path, int width,
                            int height, int nx) {
    memset(ps, 0, sizeof *ps);
    ps->stream = -1;
    FILE *f = fopen(path, "wb");
    if (!f) return dc_set_error(DC_ERR_IO, "%s: cannot create %s: %s", fn, path, strerror(errno));
    fclose(f);
    plgstrm(&ps->old_stream);
    plmkstrm(&ps->stream);
    if (ps->stream < 0) return dc_set_error(DC_ERR_STATE, "%s: PLplot has no free stream", fn);
    plsError(&ps->errcode, ps->errmsg);
    plsexit(plot_exit_handler);
    plsdev("pngcairo");
    plsfnam(path);
    plspage(0, 0, width, height, 0, 0);
    plscmap0n(PAL_N);
    plscmap0(pal_r, pal_g, pal_b, PAL_N);
    plscolbg(255, 255, 255);
    plssub(nx, 1);
    plinit();
    if (nx > 1) plschr(0, 0.75); /* subpages would otherwise get oversized text */
    ps->open = true;
    return DC_OK;
}

static void plot_end(plot_session *ps) {
    jmp_buf jb;
    plot_jmp = &jb;
    /* After a failure the stream may be inconsistent; if ending it fails too,
     * it is abandoned rather than letting PLplot exit. */
    if (ps->open && !setjmp(jb)) plend1();
    plot_jmp = NULL;
    ps->open = false;
    plsexit(NULL);
    plsstrm(ps->old_stream);
}

/* Range of the finite values of v (n of them); false if none. */
static bool finite_range(const float *v, int n, double *lo, double *hi) {
    bool any = false;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        if (!any || v[i] < *lo) *lo = v[i];
        if (!any || v[i] > *hi) *hi = v[i];
        any = true;
    }
    return any;
}

static void pad_range(double *lo, double *hi) {
    double span = *hi - *lo;
    if (span <= 0) {
        double d = fabs(*lo) > 0 ? 0.1 * fabs(*lo) : 0.5;
        *lo -= d;
        *hi += d;
    } else {
        *lo -= 0.04 * span;
        *hi += 0.04 * span;
    }
}

static double series_x(const dc_plot_series *s, int i) { return s->x ? s->x[i] : i + 1; }

/* One panel in the next subpage: axes, grid, lines in runs of finite points,
 * and a legend. buf holds 2 * max n doubles. */
static void draw_panel(const char *title, const char *xlabel, const char *ylabel,
                       const dc_plot_series *series, int n_series, double *buf,
                       double legend_scale) {
    double xlo = 0, xhi = 0, ylo = 0, yhi = 0;
    bool any = false;
    for (int k = 0; k < n_series; k++) {
        const dc_plot_series *s = &series[k];
        for (int i = 0; i < s->n; i++) {
            double x = series_x(s, i), y = s->y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            if (!any || x < xlo) xlo = x;
            if (!any || x > xhi) xhi = x;
            if (!any || y < ylo) ylo = y;
            if (!any || y > yhi) yhi = y;
            any = true;
        }
    }
    if (!any) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
    pad_range(&xlo, &xhi);
    pad_range(&ylo, &yhi);
    /* The legend goes in the corner that hides the fewest points. */
    static const PLINT corners[4] = {PL_POSITION_TOP | PL_POSITION_RIGHT,
                                     PL_POSITION_BOTTOM | PL_POSITION_RIGHT,
                                     PL_POSITION_TOP | PL_POSITION_LEFT,
                                     PL_POSITION_BOTTOM | PL_POSITION_LEFT};
    int hidden[4] = {0, 0, 0, 0};
    for (int k = 0; k < n_series; k++)
        for (int i = 0; i < series[k].n; i++) {
            double u = (series_x(&series[k], i) - xlo) / (xhi - xlo);
            double v = (series[k].y[i] - ylo) / (yhi - ylo);
            if (!isfinite(u) || !isfinite(v)) continue;
            bool right = u > 0.6, left = u < 0.4, top = v > 0.7, bottom = v < 0.3;
            hidden[0] += right && top;
            hidden[1] += right && bottom;
            hidden[2] += left && top;
            hidden[3] += left && bottom;
        }
    int corner = 0;
    for (int c = 1; c < 4; c++)
        if (hidden[c] < hidden[corner]) corner = c;
    pladv(0);
    plvpor(0.13, 0.95, 0.14, 0.9);
    plwind(xlo, xhi, ylo, yhi);
    plwidth(1);
    plcol0(2);
    plbox("g", 0, 0, "g", 0, 0);
    plcol0(1);
    plbox("bcnst", 0, 0, "bcnstv", 0, 0);
    pllab(xlabel ? xlabel : "", ylabel ? ylabel : "", title ? title : "");
    plwidth(2);
    for (int k = 0; k < n_series; k++) {
        const dc_plot_series *s = &series[k];
        double *xs = buf, *ys = buf + s->n;
        plcol0(PAL_FIRST + k % (PAL_N - PAL_FIRST));
        int run = 0;
        for (int i = 0; i <= s->n; i++) {
            bool ok = i < s->n && isfinite(series_x(s, i)) && isfinite(s->y[i]);
            if (ok) {
                xs[run] = series_x(s, i);
                ys[run] = s->y[i];
                run++;
            } else {
                if (run == 1) plpoin(1, xs, ys, 17);
                else if (run > 1) plline(run, xs, ys);
                run = 0;
            }
        }
    }
    /* The legend, top right inside the axes. */
    enum { MAXL = 16 };
    int nl = n_series < MAXL ? n_series : MAXL;
    PLINT opts[MAXL], colors[MAXL], styles[MAXL], tcolors[MAXL];
    PLFLT widths[MAXL];
    const char *text[MAXL];
    int shown = 0;
    for (int k = 0; k < nl; k++) {
        if (!series[k].name || !series[k].name[0]) continue;
        opts[shown] = PL_LEGEND_LINE;
        colors[shown] = PAL_FIRST + k % (PAL_N - PAL_FIRST);
        tcolors[shown] = 1;
        styles[shown] = 1;
        widths[shown] = 2;
        text[shown] = series[k].name;
        shown++;
    }
    if (shown) {
        PLFLT lw, lh;
        plwidth(1);
        pllegend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
                 corners[corner] | PL_POSITION_INSIDE, 0.02, 0.02, 0.08, 0,
                 1, 1, 0, 0, shown, opts, 1.0, legend_scale, 2.0, 0.0, tcolors, text, NULL, NULL, NULL,
                 NULL, colors, styles, widths, NULL, NULL, NULL, NULL);
    }
}

/* Checks series and returns the largest n (or -1 with an error set). */
static int check_series(const char *fn, const dc_plot_series *series, int n_series) {
    if (n_series < 1 || !series)
        return dc_set_error(DC_ERR_ARG, "%s: %d series; need at least one", fn, n_series), -1;
    int maxn = 1;
    for (int k = 0; k < n_series; k++) {
        if (series[k].n < 0 || (series[k].n > 0 && !series[k].y))
            return dc_set_error(DC_ERR_ARG, "%s: series %d has n %d and y %p", fn, k, series[k].n,
                                (const void *)series[k].y), -1;
        if (series[k].n > maxn) maxn = series[k].n;
    }
    return maxn;
}

/* Draws panels (each a list of series) into one PNG. */
typedef struct {
    const char *title, *xlabel, *ylabel;
    const dc_plot_series *series;
    int n_series;
} plot_panel;

static dc_status plot_panels(const char *fn, const char *path, const plot_panel *panels, int np,
                             int width, int height) {
    if (!path) return dc_set_error(DC_ERR_ARG, "%s: path is NULL", fn);
    int maxn = 1;
    for (int p = 0; p < np; p++) {
        int m = check_series(fn, panels[p].series, panels[p].n_series);
        if (m < 0) return dc_last_status();
        if (m > maxn) maxn = m;
    }
    double *volatile buf = dc_malloc(2 * (size_t)maxn * sizeof(double));
    if (!buf) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    plot_session ps;
    ps.stream = -1;
    jmp_buf jb;
    dc_atomic_file af; /* PLplot writes the tmp; the commit puts it in place whole */
    volatile dc_status s = dc_atomic_begin(&af, fn, path);
    if (s != DC_OK) {
        dc_free(buf);
        return s;
    }
    s = plot_begin(fn, &ps, af.tmp, width, height, np);
    if (s != DC_OK) goto out;
    plot_jmp = &jb;
    if (setjmp(jb)) {
        s = dc_set_error(DC_ERR_STATE, "%s: PLplot failed writing %s: %s", fn, path, plot_msg);
        goto out;
    }
    for (int p = 0; p < np; p++)
        draw_panel(panels[p].title, panels[p].xlabel, panels[p].ylabel, panels[p].series,
                   panels[p].n_series, buf, np > 1 ? 0.65 : 0.9);
    if (ps.errcode)
        s = dc_set_error(DC_ERR_STATE, "%s: PLplot error writing %s: %s", fn, path, ps.errmsg);
out:
    plot_jmp = NULL;
    if (ps.stream >= 0) plot_end(&ps);
    dc_free(buf);
    if (s == DC_OK) s = dc_atomic_commit(&af);
    else dc_atomic_abort(&af);
    return s;
}

dc_status dc_plot_lines(const char *path, const char *title, const char *xlabel,
                        const char *ylabel, const dc_plot_series *series, int n_series) {
    plot_panel p = {title, xlabel, ylabel, series, n_series};
    return plot_panels("dc_plot_lines", path, &p, 1, 900, 600);
}

dc_status dc_plot_history(const char *path, const float *epochs, const float *loss,
                          const float *val_loss, const float *acc, const float *val_acc, int n) {
    const char *fn = "dc_plot_history";
    if (!loss || n < 1) return dc_set_error(DC_ERR_ARG, "%s: loss is NULL or n %d < 1", fn, n);
    dc_plot_series ls[2] = {{"loss", epochs, loss, n}, {"val_loss", epochs, val_loss, n}};
    dc_plot_series as[2] = {{"accuracy", epochs, acc, n}, {"val_accuracy", epochs, val_acc, n}};
    plot_panel panels[2];
    int np = 0;
    panels[np++] = (plot_panel){"Loss", "epoch", "loss", ls, val_loss ? 2 : 1};
    if (acc || val_acc) {
        const dc_plot_series *a = acc ? as : as + 1;
        panels[np++] = (plot_panel){"Accuracy", "epoch", "accuracy", a, acc && val_acc ? 2 : 1};
    }
    return plot_panels(fn, path, panels, np, np == 2 ? 1400 : 900, 600);
}

/* ---- image grids ---- */

// tiles (N,TH,TW,C) -> one PNG of ceil(N/cols) x cols tiles, each scaled up
dc_status dc_plot_image_grid_png(const char *path, const float *tiles, int n_tiles, int tile_h,
                                 int tile_w, int channels, int cols, int scale,
                                 bool normalize_each) {
    const char *fn = "dc_plot_image_grid_png";
    if (!path || !tiles)
        return dc_set_error(DC_ERR_ARG, "%s: %s is NULL", fn, path ? "tiles" : "path");
    if (n_tiles < 1 || tile_h < 1 || tile_w < 1 || (channels != 1 && channels != 3) || cols < 1 ||
        scale < 1 || scale > 256)
        return dc_set_error(DC_ERR_ARG, "%s: %d tiles of (%d,%d,%d), %d columns, scale %d: want "
                            "positive sizes, 1 or 3 channels and a scale in [1, 256]", fn, n_tiles,
                            tile_h, tile_w, channels, cols, scale);
    if (cols > n_tiles) cols = n_tiles;
    int rows = (n_tiles + cols - 1) / cols;
    int border = scale >= 4 ? 2 : 1;
    int64_t W = (int64_t)cols * tile_w * scale + (int64_t)(cols + 1) * border;
    int64_t H = (int64_t)rows * tile_h * scale + (int64_t)(rows + 1) * border;
    if (W > 32768 || H > 32768)
        return dc_set_error(DC_ERR_ARG, "%s: a %lldx%lld grid is too large", fn, (long long)W,
                            (long long)H);
    uint8_t *pix = dc_malloc((size_t)(W * H * channels));
    if (!pix) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    memset(pix, 255, (size_t)(W * H * channels)); /* white borders */
    int64_t tsize = (int64_t)tile_h * tile_w * channels;
    for (int t = 0; t < n_tiles; t++) {
        const float *src = tiles + t * tsize;
        float lo = 0, hi = 1;
        if (normalize_each) {
            double l = 0, h = 0;
            if (finite_range(src, (int)tsize, &l, &h)) lo = (float)l, hi = (float)h;
        }
        float inv = hi > lo ? 1.0f / (hi - lo) : 0.0f;
        int64_t ox = border + (int64_t)(t % cols) * (tile_w * scale + border);
        int64_t oy = border + (int64_t)(t / cols) * (tile_h * scale + border);
        for (int y = 0; y < tile_h * scale; y++)
            for (int x = 0; x < tile_w * scale; x++)
                for (int k = 0; k < channels; k++) {
                    float v = src[((int64_t)(y / scale) * tile_w + x / scale) * channels + k];
                    v = (v - lo) * inv;
                    if (!(v > 0)) v = 0; /* NaN too */
                    if (v > 1) v = 1;
                    pix[((oy + y) * W + ox + x) * channels + k] = (uint8_t)lrintf(v * 255.0f);
                }
    }
    dc_status s = dc_png_write_u8(fn, path, pix, (int)H, (int)W, channels);
    dc_free(pix);
    return s;
}
