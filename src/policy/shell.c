/*
 * shell.c: a bounded reader of shell text, enough to see which commands a
 * `sh -c "..."` script runs. It is not a shell: it reads the common forms
 * (words, quotes, backslashes, comments, ; & && || | |& ( ), redirections,
 * $(...), backquotes and <(...) whose contents are commands too) and says
 * so, through `unparsed`, when the text uses something it does not follow
 * (here-documents, `case`, unbalanced quotes, complex ${...}, $'\...').
 * After such a thing it carries on, best effort: the rules then see more
 * commands rather than fewer (a here-document's body is read as commands).
 *
 * Words keep their expansions as written ($HOME, $(cmd), ~, *): the rules
 * look at them as text (@home knows "$HOME", @download knows "$(curl").
 *
 * Bounds: one left-to-right pass per nesting level; a nested $(...) is
 * read again as a script at most HS_SHELL_MAX_NEST levels deep (the only
 * recursion), so the work is O(depth x length); the words are copies of
 * parts of the text, and at most HS_CMD_MAX_COMMANDS commands are kept.
 */
#define _GNU_SOURCE
#include "commands.h"

#include <stdlib.h>
#include <string.h>

#define SH_MAX_STACK 64 /* quotes and parentheses open while looking for a ')' */

struct sh_parser {
	struct hs_shell_script *out;
	unsigned next_pipeline;
	unsigned next_subshell;
	bool full; /* HS_CMD_MAX_COMMANDS reached: stop reading */
};

/* The state of one level (the script, or the contents of one $(...)). */
struct sh_level {
	unsigned nest;
	unsigned pipeline;
	unsigned subshell[SH_MAX_STACK]; /* ids of the ( ... ) we are in; [0] = 0 */
	size_t depth;			 /* entries of subshell[] in use, beyond [0] */
	struct hs_strv words;		 /* of the command being read */
	char *word;			 /* the word being read (capacity: the level's text) */
	size_t wlen;
	bool in_word;
	bool redirect; /* the next word is a redirection's target: not an argument */
};

static void note(struct sh_parser *p, const char *why)
{
	if (!p->out->unparsed)
		p->out->unparsed = why;
}

static void add(struct sh_level *L, const char *s, size_t n)
{
	memcpy(L->word + L->wlen, s, n);
	L->wlen += n;
	L->in_word = true;
}

static void add_char(struct sh_level *L, char c)
{
	add(L, &c, 1);
}

static void end_word(struct sh_level *L)
{
	if (!L->in_word)
		return;
	L->word[L->wlen] = '\0';
	if (L->redirect)
		L->redirect = false;
	else
		hs_strv_push(&L->words, L->word);
	L->wlen = 0;
	L->in_word = false;
}

/* ---- a command is complete ---- */

static bool word_is(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(w, *list) == 0)
			return true;
	return false;
}

/* NAME=value or NAME+=value (NAME[i]=value too) */
static bool is_assignment(const char *w)
{
	const char *c = w;
	if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_'))
		return false;
	while ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
	       *c == '_')
		c++;
	if (*c == '[') {
		c = strchr(c, ']');
		if (!c)
			return false;
		c++;
	}
	if (*c == '+')
		c++;
	return *c == '=';
}

/* Words a command may start with that are shell syntax, not the program. */
static const char *const prefix_words[] = {"!",	   "{",	   "}",	     "if",   "then",  "else",
					   "elif", "fi",   "do",     "done", "while", "until",
					   "esac", "time", "coproc", NULL};

/* Index of the program word: past reserved words and assignments. */
static size_t program_index(struct sh_parser *p, const struct hs_strv *w)
{
	size_t k = 0;
	while (k < w->n) {
		const char *s = w->v[k];
		if (strcmp(s, "time") == 0 && k + 1 < w->n && strcmp(w->v[k + 1], "-p") == 0)
			k += 2;
		else if (word_is(s, prefix_words) || is_assignment(s))
			k++;
		else if (strcmp(s, "function") == 0)
			k += 2; /* function NAME { ... }: the body follows as commands */
		else
			break;
	}
	if (k < w->n && (strcmp(w->v[k], "for") == 0 || strcmp(w->v[k], "select") == 0))
		return w->n; /* `for x in a b`: the loop header runs nothing */
	if (k < w->n && strcmp(w->v[k], "case") == 0) {
		note(p, "a case statement");
		return w->n;
	}
	return k;
}

static void emit(struct sh_parser *p, struct sh_level *L)
{
	struct hs_shell_script *out = p->out;
	size_t k = program_index(p, &L->words);
	if (k < L->words.n && !p->full) {
		if (out->n >= HS_CMD_MAX_COMMANDS) {
			note(p, "more commands than harness looks at");
			p->full = true;
		} else {
			struct hs_shell_cmd *c;
			out->v = hs_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
			c = &out->v[out->n++];
			memset(c, 0, sizeof(*c));
			for (size_t i = k; i < L->words.n; i++)
				hs_strv_push(&c->words, L->words.v[i]);
			c->pipeline = L->pipeline;
			c->nest = L->nest;
			c->subshell = L->subshell[L->depth];
		}
	}
	hs_strv_clear(&L->words);
}

/* Ends the command being read; `pipe`: the next one reads its output. */
static void end_command(struct sh_parser *p, struct sh_level *L, bool pipe)
{
	end_word(L);
	L->redirect = false;
	emit(p, L);
	if (!pipe)
		L->pipeline = p->next_pipeline++;
}

/* ---- finding the end of $( ... ) ---- */

enum { FC_PAREN, FC_SQ, FC_DQ, FC_BQ };

static bool at_word_start(const char *s, size_t i, size_t start)
{
	return i == start || strchr(" \t\n;&|()", s[i - 1]) != NULL;
}

/* s[start..] follows an opening '('; finds the matching ')' (quotes,
 * backquotes, nested parentheses and comments followed). */
static bool find_close(const char *s, size_t len, size_t start, size_t *end)
{
	unsigned char stack[SH_MAX_STACK];
	size_t sp = 0;
	stack[sp++] = FC_PAREN;
	for (size_t i = start; i < len; i++) {
		char c = s[i];
		unsigned char push = 0xff;
		switch (stack[sp - 1]) {
		case FC_SQ:
			if (c == '\'')
				sp--;
			continue;
		case FC_BQ:
			if (c == '\\')
				i++;
			else if (c == '`')
				sp--;
			continue;
		case FC_DQ:
			if (c == '\\')
				i++;
			else if (c == '"')
				sp--;
			else if (c == '`')
				push = FC_BQ;
			else if (c == '$' && i + 1 < len && s[i + 1] == '(')
				push = FC_PAREN, i++;
			break;
		default:
			if (c == '\\')
				i++;
			else if (c == '\'')
				push = FC_SQ;
			else if (c == '"')
				push = FC_DQ;
			else if (c == '`')
				push = FC_BQ;
			else if (c == '(')
				push = FC_PAREN;
			else if (c == ')' && --sp == 0) {
				*end = i;
				return true;
			} else if (c == '#' && at_word_start(s, i, start)) {
				while (i + 1 < len && s[i + 1] != '\n')
					i++;
			}
			break;
		}
		if (push != 0xff) {
			if (sp == SH_MAX_STACK)
				return false;
			stack[sp++] = push;
		}
	}
	return false;
}

/* ---- the lexer ---- */

static void lex(struct sh_parser *p, const char *s, size_t len, unsigned nest);

/* The contents of a substitution are commands of their own. */
static void nested(struct sh_parser *p, const char *s, size_t len, unsigned nest)
{
	if (nest > HS_SHELL_MAX_NEST) {
		note(p, "command substitutions nested too deep");
		return;
	}
	lex(p, s, len, nest);
}

static size_t single_quoted(struct sh_parser *p, struct sh_level *L, const char *s, size_t len,
			    size_t i)
{
	const char *q = memchr(s + i + 1, '\'', len - i - 1);
	size_t end = q ? (size_t)(q - s) : len;
	add(L, s + i + 1, end - i - 1);
	if (!q) {
		note(p, "an unbalanced quote");
		return len;
	}
	return end + 1;
}

/* `...`: its contents, with \\ \` \$ unescaped, are a script. */
static size_t backquoted(struct sh_parser *p, struct sh_level *L, const char *s, size_t len,
			 size_t i)
{
	size_t j = i + 1, n = 0;
	while (j < len && s[j] != '`')
		j += s[j] == '\\' ? 2 : 1;
	if (j >= len) {
		note(p, "an unbalanced backquote");
		add(L, s + i, len - i);
		return len;
	}
	char *inner = hs_xmalloc(j - i);
	for (size_t k = i + 1; k < j; k++) {
		if (s[k] == '\\' && k + 1 < j && strchr("\\`$", s[k + 1]))
			k++;
		inner[n++] = s[k];
	}
	nested(p, inner, n, L->nest + 1);
	free(inner);
	add(L, s + i, j + 1 - i);
	return j + 1;
}

/* $(...), <(...), >(...) at s[i] (the '(' at s[open]). */
static size_t substitution(struct sh_parser *p, struct sh_level *L, const char *s, size_t len,
			   size_t i, size_t open)
{
	size_t end;
	if (!find_close(s, len, open + 1, &end)) {
		note(p, "an unbalanced \"$(\"");
		add(L, s + i, len - i);
		return len;
	}
	nested(p, s + open + 1, end - open - 1, L->nest + 1);
	add(L, s + i, end + 1 - i);
	return end + 1;
}

/* ${...}: kept as written; anything but ${NAME}, ${#NAME}, ${1} is not followed. */
static size_t parameter(struct sh_parser *p, struct sh_level *L, const char *s, size_t len,
			size_t i)
{
	size_t j = i + 2, depth = 1;
	for (; j < len; j++) {
		if (s[j] == '\\')
			j++;
		else if (s[j] == '{')
			depth++;
		else if (s[j] == '}' && --depth == 0)
			break;
	}
	if (j >= len) {
		note(p, "an unbalanced \"${\"");
		add(L, s + i, len - i);
		return len;
	}
	size_t k = i + 2 + (s[i + 2] == '#' && j > i + 3);
	bool simple = k < j;
	for (; k < j && simple; k++)
		simple = (s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= 'a' && s[k] <= 'z') ||
			 (s[k] >= '0' && s[k] <= '9') || s[k] == '_' ||
			 (j == i + 3 && strchr("@*#?$!-", s[k]));
	if (!simple)
		note(p, "a parameter expansion ${...} beyond ${NAME}");
	add(L, s + i, j + 1 - i);
	return j + 1;
}

static size_t double_quoted(struct sh_parser *p, struct sh_level *L, const char *s, size_t len,
			    size_t i);

/* s[i] == '$' */
static size_t dollar(struct sh_parser *p, struct sh_level *L, const char *s, size_t len, size_t i,
		     bool quoted)
{
	char n = i + 1 < len ? s[i + 1] : '\0';
	size_t end;
	if (n == '(' && i + 2 < len && s[i + 2] == '(') { /* $(( arithmetic )) */
		if (!find_close(s, len, i + 2, &end)) {
			note(p, "an unbalanced \"$((\"");
			add(L, s + i, len - i);
			return len;
		}
		if (memmem(s + i + 3, end - i - 3, "$(", 2) || memchr(s + i + 3, '`', end - i - 3))
			note(p, "a command substitution inside $((...))");
		add(L, s + i, end + 1 - i);
		return end + 1;
	}
	if (n == '(')
		return substitution(p, L, s, len, i, i + 1);
	if (n == '{')
		return parameter(p, L, s, len, i);
	if (n == '\'' && !quoted) { /* $'...': escapes are not decoded */
		size_t j = i + 2;
		bool escapes = false;
		for (; j < len && s[j] != '\''; j++)
			if (s[j] == '\\') {
				escapes = true;
				j++;
			}
		if (j >= len) {
			note(p, "an unbalanced quote");
			add(L, s + i, len - i);
			return len;
		}
		if (escapes)
			note(p, "$'...' quoting with escapes");
		add(L, s + i + 2, j - i - 2);
		return j + 1;
	}
	if (n == '"' && !quoted)
		return double_quoted(p, L, s, len, i + 1);
	add_char(L, '$');
	return i + 1;
}

static size_t double_quoted(struct sh_parser *p, struct sh_level *L, const char *s, size_t len,
			    size_t i)
{
	L->in_word = true;
	for (i++; i < len;) {
		char c = s[i];
		if (c == '"')
			return i + 1;
		if (c == '\\' && i + 1 < len) {
			char n = s[i + 1];
			if (n != '\n')
				add_char(L, strchr("$`\"\\", n) ? n : '\\');
			i += strchr("$`\"\\\n", n) ? 2 : 1;
		} else if (c == '`') {
			i = backquoted(p, L, s, len, i);
		} else if (c == '$') {
			i = dollar(p, L, s, len, i, true);
		} else {
			add_char(L, c);
			i++;
		}
	}
	note(p, "an unbalanced quote");
	return len;
}

/* < > >> <> >| <& >& &> &>> and here-documents; s[i] is '<', '>' or '&'. */
static size_t redirection(struct sh_parser *p, struct sh_level *L, const char *s, size_t len,
			  size_t i)
{
	if (L->in_word) { /* "2>": the digits name a file descriptor */
		size_t k = 0;
		while (k < L->wlen && L->word[k] >= '0' && L->word[k] <= '9')
			k++;
		if (k == L->wlen)
			L->wlen = 0, L->in_word = false;
		else
			end_word(L);
	}
	if (s[i] == '<' && i + 1 < len && s[i + 1] == '<') {
		bool string = i + 2 < len && s[i + 2] == '<';
		note(p, string ? "a here-string (<<<)" : "a here-document (<<)");
		i += string ? 3 : (i + 2 < len && s[i + 2] == '-') ? 3 : 2;
	} else {
		i += s[i] == '&' ? 2 : 1; /* "&>" */
		if (i < len && strchr(">|&", s[i]) && !(s[i] == '&' && s[i - 1] == '&'))
			i++;
		else if (i < len && s[i - 1] == '<' && s[i] == '>')
			i++;
	}
	end_word(L);
	L->redirect = true;
	return i;
}

static void enter_subshell(struct sh_parser *p, struct sh_level *L)
{
	if (L->depth + 1 >= SH_MAX_STACK) {
		note(p, "subshells nested too deep");
		return;
	}
	L->subshell[++L->depth] = ++p->next_subshell;
}

/* ; & && || | |& ( ) at s[i] */
static size_t operator(struct sh_parser *p, struct sh_level *L, const char *s, size_t len, size_t i)
{
	char c = s[i], n = i + 1 < len ? s[i + 1] : '\0';
	switch (c) {
	case ';':
		if (n == ';' || n == '&')
			note(p, "a case statement");
		end_command(p, L, false);
		return i + (n == ';' || n == '&' ? 2 : 1);
	case '&':
		if (n == '>')
			return redirection(p, L, s, len, i);
		end_command(p, L, false);
		return i + (n == '&' ? 2 : 1);
	case '|':
		end_command(p, L, n != '|');
		return i + (n == '|' || n == '&' ? 2 : 1);
	case '(':
		end_command(p, L, false);
		enter_subshell(p, L);
		return i + 1;
	default: /* ')' */
		end_command(p, L, false);
		if (L->depth > 0)
			L->depth--;
		return i + 1;
	}
}

static void lex(struct sh_parser *p, const char *s, size_t len, unsigned nest)
{
	struct sh_level L;
	size_t i = 0;
	memset(&L, 0, sizeof(L));
	L.nest = nest;
	L.pipeline = p->next_pipeline++;
	L.word = hs_xmalloc(len + 1); /* a word is never longer than the text */
	while (i < len && !p->full) {
		char c = s[i], n = i + 1 < len ? s[i + 1] : '\0';
		if (c == ' ' || c == '\t' || c == '\r') {
			end_word(&L);
			i++;
		} else if (c == '\n') {
			end_command(p, &L, false);
			i++;
		} else if (c == '#' && !L.in_word) {
			while (i < len && s[i] != '\n')
				i++;
		} else if (c == '\\') {
			if (n != '\n' && i + 1 < len)
				add_char(&L, n);
			else if (i + 1 >= len)
				add_char(&L, '\\');
			i += 2;
		} else if (c == '\'') {
			i = single_quoted(p, &L, s, len, i);
		} else if (c == '"') {
			i = double_quoted(p, &L, s, len, i);
		} else if (c == '`') {
			i = backquoted(p, &L, s, len, i);
		} else if (c == '$') {
			i = dollar(p, &L, s, len, i, false);
		} else if ((c == '<' || c == '>') && n == '(') {
			i = substitution(p, &L, s, len, i, i + 1);
		} else if (c == '<' || c == '>') {
			i = redirection(p, &L, s, len, i);
		} else if (strchr(";&|()", c) && c != '\0') {
			i = operator(p, &L, s, len, i);
		} else {
			add_char(&L, c);
			i++;
		}
	}
	end_command(p, &L, false);
	hs_strv_clear(&L.words);
	free(L.word);
}

int hs_shell_split(const char *text, size_t len, struct hs_shell_script *out)
{
	struct sh_parser p = {.out = out};
	memset(out, 0, sizeof(*out));
	if (!text)
		return 0;
	lex(&p, text, len, 0);
	return out->unparsed ? -1 : 0;
}

void hs_shell_script_free(struct hs_shell_script *s)
{
	for (size_t i = 0; i < s->n; i++)
		hs_strv_clear(&s->v[i].words);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
