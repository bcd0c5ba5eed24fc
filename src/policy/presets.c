/*
 * presets.c: the shipped presets and the levels that name them. Each preset
 * is defined once, as policies/NAME.json; scripts/embed.py compiles those
 * files into this binary and they are parsed here by the ordinary loader, so
 * every run of harness exercises it.
 */
#define _GNU_SOURCE
#include "policy-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const hs_preset_names[] = {"restrict", "analyze", "scratch", "review", "full", NULL};

/* Preset name -> level (-1: not a level) and the level's digit alias. */
static const struct {
	const char *name;
	const char *alias;
	int level;
} presets[] = {
    {"restrict", NULL, -1}, {"analyze", "0", 0}, {"scratch", "1", 1},
    {"review", "2", 2},	    {"full", "3", 3},
};

static const struct hs__preset_src *preset_source(const char *name)
{
	for (const struct hs__preset_src *s = hs__preset_sources; s->name; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

static int unknown_preset(const char *name, struct hs_error *err)
{
	char q[96];
	const char *best = NULL;
	for (size_t i = 0; i < HS_ARRAY_LEN(presets) && !best; i++)
		if (hs__edit_distance(name, presets[i].name) <= 2)
			best = presets[i].name;
	return hs_err(err,
		      "unknown preset %s%s%s%s; use restrict, analyze, scratch, review, full, or a "
		      "level 0 to 3",
		      hs__quote(name, q, sizeof(q)), best ? " (did you mean \"" : "",
		      best ? best : "", best ? "\"?)" : "");
}

/* Loads the embedded text of preset i into a fresh policy. */
static int load_preset(struct hs_policy *out, size_t i, struct hs_error *err)
{
	const struct hs__preset_src *src = preset_source(presets[i].name);
	char origin[64];
	snprintf(origin, sizeof(origin), "preset %s", presets[i].name);
	hs_policy_init(out);
	if (!src)
		return hs_err(err, "%s is missing from this build", origin);
	if (hs__policy_load(out, src->json, src->len, origin, false, err) < 0)
		return -1;
	for (size_t g = 0; g < out->ngrants; g++) {
		free(out->grants[g].origin);
		out->grants[g].origin = hs_xstrdup(origin);
	}
	free(out->name);
	out->name = hs_xstrdup(presets[i].name);
	out->level = presets[i].level;
	return 0;
}

int hs_policy_apply_preset(struct hs_policy *p, const char *name, struct hs_error *err)
{
	struct hs_policy tmp;
	hs_error_clear(err);
	for (size_t i = 0; i < HS_ARRAY_LEN(presets); i++) {
		if (strcmp(name, presets[i].name) != 0 &&
		    !(presets[i].alias && strcmp(name, presets[i].alias) == 0))
			continue;
		if (load_preset(&tmp, i, err) < 0) {
			hs_policy_free(&tmp);
			return -1;
		}
		hs_policy_free(p);
		*p = tmp;
		return 0;
	}
	return unknown_preset(name, err);
}

int hs_policy_apply_level(struct hs_policy *p, int level, struct hs_error *err)
{
	hs_error_clear(err);
	for (size_t i = 0; i < HS_ARRAY_LEN(presets); i++)
		if (presets[i].alias && presets[i].level == level)
			return hs_policy_apply_preset(p, presets[i].name, err);
	return hs_err(err,
		      "level %d does not exist; use 0 (analyze), 1 (scratch), 2 (review) or 3 "
		      "(full)",
		      level);
}

static bool looks_like_file(const char *s)
{
	size_t n = strlen(s);
	return strchr(s, '/') || (n > 5 && strcmp(s + n - 5, ".json") == 0);
}

int hs_policy_start(struct hs_policy *p, const char *spec, struct hs_error *err)
{
	if (spec && looks_like_file(spec))
		return hs_policy_apply_preset(p, "restrict", err) < 0
			       ? -1
			       : hs_policy_load_file(p, spec, err);
	return hs_policy_apply_preset(p, spec ? spec : "restrict", err);
}
