#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gen-man.py - the section-3 manual of libfutures, from include/futures.h.

The header is the one source: its contract comments become the pages, so a
function added to the header gets its page from `make man` without anyone
writing roff.  Generated (mdoc, clean under `mandoc -Tlint`):

  futures(3)         the overview: the header's opening comment and its
                     "Conventions" section (FUT_FOREVER, fut_fn, errors,
                     timeouts, ownership), and an index of every page
  <type>(3)          one page per other section of the header, named after
                     the section's first type (future_t, fut_pool_t, ...)
                     or, if it has none, its first macro (FUTURES_VERSION):
                     the section's prose and every type and macro it
                     defines, with their comments
  <function>(3)      one page per FUT_API function: its declaration and its
                     contract comment; SEE ALSO names its section's page and
                     the other functions of that section

The other type and macro names of a section (fut_pool_opts, fut_shutdown,
FUTURES_VERSION_MAJOR, ...) are listed in man/aliases as "ALIAS PAGE"
lines; `make install` makes them symbolic links to their page.

What the header must look like (it does; a change that breaks it is an
error here, not a silently missing page):
  - sections open with a banner comment: a line of '=' signs, a title line
    ("2. Futures", "Version"), a line of '=' signs, then the prose;
  - the comment right above a declaration (no blank line between) is its
    contract; every FUT_API function must have one;
  - a declaration ends at its ';' (a #define at the end of its line).

Sentences in the comments end with a full stop and two spaces, as the
header writes them; a line indented deeper than its paragraph starts a
literal block (the tables of codes and options keep their layout).

Usage:
  scripts/gen-man.py [HEADER] [MANDIR]     write MANDIR/man3/*.3 and
                                           MANDIR/aliases (default
                                           include/futures.h, man)
  scripts/gen-man.py --check [HEADER] [MANDIR]
                                           exit 1 if a page is missing,
                                           stale or extra, or a FUT_API
                                           function has no page

A page keeps its .Dd date until its content changes; then the date becomes
today's (the date of the last change, as mdoc means it).  The check ignores
the date.  Needs only python3, at generation time; installing the pages
needs nothing.
"""

import datetime
import os
import re
import sys
import tempfile

GENERATOR = "scripts/gen-man.py"


class HeaderError(Exception):
    pass


# ---------------------------------------------------------------------------
# Reading the header
# ---------------------------------------------------------------------------

class Comment:
    def __init__(self, lines, first, last):
        self.lines = lines      # text lines, comment markers removed
        self.first = first      # line numbers (0-based) in the header
        self.last = last
        self.raw = None         # the original lines, for literal display


class Decl:
    """A declaration: a function, a type or a macro."""

    def __init__(self, kind, name, code, doc, line):
        self.kind = kind        # 'function', 'type', 'macro'
        self.name = name        # the page or alias name
        self.code = code        # the declaration's source lines
        self.doc = doc          # Comment right above it, or None
        self.line = line


class Section:
    def __init__(self, title, prose):
        self.title = title      # "Futures", "Version", ...
        self.prose = prose      # list of text lines
        self.decls = []

    def functions(self):
        return [d for d in self.decls if d.kind == "function"]

    def types_and_macros(self):
        return [d for d in self.decls if d.kind in ("type", "macro")]


def comment_text(raw):
    """Lines of a /* ... */ block without the markers and the ' * ' margin."""
    out = []
    for i, line in enumerate(raw):
        s = line.rstrip()
        if i == 0:
            s = s.lstrip()
            assert s.startswith("/*")
            s = s[2:]
        if s.endswith("*/"):
            s = s[:-2].rstrip()
        m = re.match(r"^\s*\*(?!/)( ?)(.*)$", s) if i > 0 else None
        if m:
            s = m.group(2)
        elif i == 0:
            s = s[1:] if s.startswith(" ") else s
        else:
            s = s.strip()
        out.append(s.rstrip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


def strip_comments(code):
    code = re.sub(r"/\*.*?\*/", " ", code, flags=re.S)
    return re.sub(r"//[^\n]*", " ", code)


SKIP_MACROS = {"FUTURES_H", "FUT_API"}


def parse_header(path):
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    top = None
    sections = []
    pending = None      # the last comment, if nothing came between it and here
    i = 0
    n = len(lines)
    pp_depth = 0        # depth of #if blocks other than the include guard / extern "C"
    while i < n:
        line = lines[i]
        s = line.strip()
        if not s:
            pending = None
            i += 1
            continue
        if s.startswith("/*"):
            j = i
            while "*/" not in lines[j]:
                j += 1
                if j >= n:
                    raise HeaderError(f"{path}:{i + 1}: unterminated comment")
            raw = lines[i:j + 1]
            text = comment_text(raw)
            c = Comment(text, i, j)
            c.raw = raw
            if text and re.match(r"^=+$", text[0]) and len(text) >= 3 and re.match(r"^=+$", text[2]):
                title = re.sub(r"^\d+\.\s*", "", text[1].strip())
                prose = text[3:]
                while prose and not prose[0].strip():
                    prose.pop(0)
                sections.append(Section(title, prose))
                pending = None
            elif text and text[0].startswith("SPDX-License-Identifier"):
                pending = None
            elif top is None and not sections:
                top = text
                pending = None
            else:
                pending = c
            i = j + 1
            continue
        if s.startswith("#"):
            # a preprocessor line, with its continuations
            j = i
            while lines[j].rstrip().endswith("\\"):
                j += 1
            directive = " ".join(l.strip().rstrip("\\") for l in lines[i:j + 1])
            m = re.match(r"#\s*(\w+)\s*(.*)$", directive)
            word, rest = (m.group(1), m.group(2)) if m else ("", "")
            if word in ("if", "ifdef", "ifndef"):
                pp_depth += 1
            elif word == "endif":
                pp_depth -= 1
            elif word == "define":
                name = re.match(r"(\w+)", rest).group(1)
                # Macros defined inside #if blocks are configuration (FUT_API
                # and the include guard), not API, except at the guard's level.
                if name not in SKIP_MACROS and sections:
                    sections[-1].decls.append(
                        Decl("macro", name, lines[i:j + 1], pending, i))
            pending = None
            i = j + 1
            continue
        if s.startswith("}") or s.startswith('extern "C"'):
            pending = None
            i += 1
            continue
        # a C declaration, up to its ';' at brace depth 0
        j = i
        while True:
            chunk = strip_comments("\n".join(lines[i:j + 1]))
            depth = chunk.count("{") - chunk.count("}")
            if depth == 0 and chunk.rstrip().endswith(";"):
                break
            j += 1
            if j >= n:
                raise HeaderError(f"{path}:{i + 1}: declaration without its ';'")
        code = lines[i:j + 1]
        flat = " ".join(strip_comments("\n".join(code)).split())
        if not sections:
            raise HeaderError(f"{path}:{i + 1}: declaration before the first section banner")
        sec = sections[-1]
        if "FUT_API" in flat:
            name = function_name(flat)
            if name is None:
                raise HeaderError(f"{path}:{i + 1}: cannot read the FUT_API declaration: {flat}")
            if pending is None or pending.last != i - 1:
                raise HeaderError(f"{path}:{i + 1}: {name} has no contract comment right above it")
            sec.decls.append(Decl("function", name, code, pending, i))
        elif flat.startswith("typedef"):
            m = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", flat)   # a function pointer type
            if not m:
                m = re.search(r"(\w+)\s*;$", flat)
            if not m:
                raise HeaderError(f"{path}:{i + 1}: cannot read the typedef: {flat}")
            sec.decls.append(Decl("type", m.group(1), code, pending, i))
        elif re.match(r"^(enum|struct|union)\s+\w+\s*\{", flat):
            name = re.match(r"^(?:enum|struct|union)\s+(\w+)", flat).group(1)
            sec.decls.append(Decl("type", name, code, pending, i))
        else:
            raise HeaderError(f"{path}:{i + 1}: unexpected declaration: {flat}")
        pending = None
        i = j + 1
    if top is None:
        raise HeaderError(f"{path}: no opening comment")
    return top, sections


def function_name(flat):
    """The name of the function a FUT_API declaration declares."""
    m = re.match(r"^FUT_API\s+(.*?)\b(\w+)\s*\((.*)\)\s*;$", flat)
    return m.group(2) if m else None


def split_declaration(flat):
    """(return type, name, [parameters]) of a FUT_API declaration."""
    m = re.match(r"^FUT_API\s+(.*?)\b(\w+)\s*\((.*)\)\s*;$", flat)
    ret, name, params = m.group(1).strip(), m.group(2), m.group(3)
    args, depth, cur = [], 0, ""
    for ch in params:
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur.strip():
        args.append(cur.strip())
    ret = re.sub(r"\s*\*\s*$", " *", ret)
    return ret, name, args


# ---------------------------------------------------------------------------
# Writing mdoc
# ---------------------------------------------------------------------------

def esc(text):
    """Text for one roff text line."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"`([^`]*)`", r"\\(oq\1\\(cq", text)
    if text[:1] in (".", "'"):
        text = "\\&" + text
    return text


FN_WORD = re.compile(r"^([(\[]*)([A-Za-z_]\w*)\(\)([)\].,;:!?]*)$")


def text_lines(sentence):
    """A sentence as roff lines: text lines of at most 80 bytes, cut between
    words (mdoc style), and a .Fn macro line for each "name()"."""
    s = sentence.replace("\\", "\\e")
    s = re.sub(r"`([^`]*)`", r"\\(oq\1\\(cq", s)
    out, cur = [], ""

    def flush():
        nonlocal cur
        if cur:
            out.append("\\&" + cur if cur[:1] in (".", "'") else cur)
        cur = ""

    for word in s.split():
        m = FN_WORD.match(word)
        if m and "\\(oq" not in word:
            flush()
            args = list(m.group(1)) + [m.group(2)] + list(m.group(3))
            out.append(".Fn " + " ".join(args))
            continue
        if cur and len((cur + " " + word).encode()) > 78:
            flush()
        cur = f"{cur} {word}" if cur else word
    flush()
    return out


def esc_literal(line):
    line = line.replace("\\", "\\e").rstrip()
    if line[:1] in (".", "'"):
        line = "\\&" + line
    return line


def join_lines(lines):
    """A paragraph's lines as one string, keeping sentence ends: a line that
    ends a sentence is followed by two spaces, as inside a line."""
    out = ""
    for line in lines:
        line = line.strip()
        if out:
            out += "  " if re.search(r"[.!?]\)?$", out) else " "
        out += line
    return out


def sentences(text):
    """One sentence per line, as mdoc wants it ("new sentence, new line")."""
    out = []
    for part in re.split(r"(?<=[.!?:;)])\s{2,}", text.strip()):
        part = " ".join(part.split())
        if part:
            out.append(part)
    return out


def prose_to_mdoc(lines):
    """Comment prose: paragraphs (.Pp), and literal blocks (.Bd -literal)
    for the lines indented deeper than the comment's text."""
    out = []
    base = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
    blocks = []         # ('para' | 'lit', [lines])
    for line in lines:
        if not line.strip():
            blocks.append(("blank", []))
            continue
        kind = "lit" if len(line) - len(line.lstrip()) > base else "para"
        if blocks and blocks[-1][0] == kind:
            blocks[-1][1].append(line)
        elif (kind == "lit" and len(blocks) >= 2 and blocks[-1][0] == "blank"
              and blocks[-2][0] == "lit"):
            blocks.pop()            # a blank line inside a literal block
            blocks[-1][1].extend(["", line])
        else:
            blocks.append((kind, [line]))
    for kind, blk in blocks:
        if kind == "blank":
            continue
        if kind == "para":
            if out:
                out.append(".Pp")
            for sn in sentences(join_lines(blk)):
                out.extend(text_lines(sn))
        else:
            indent = min(len(l) - len(l.lstrip()) for l in blk if l.strip())
            out.append(".Bd -literal -offset indent")
            out.extend(esc_literal(l[indent:]) for l in blk)
            out.append(".Ed")
    return out


def first_sentence(lines, cut_colon=False):
    text = join_lines([l for l in lines if l.strip()])
    s = sentences(text)[0] if text else ""
    s = re.split(r"\.(?:\s|$)", s)[0]
    if cut_colon and ":" in s:
        s = s.split(":")[0]
    if len(s) > 70:     # a NAME line stays short: up to the first ';' or ':'
        m = re.match(r"^(.{15,}?)(?:;|:\s)", s)
        if m:
            s = m.group(1)
    s = s.rstrip(".")
    s = re.sub(r"`([^`]*)`", r"\1", s)
    s = re.sub(r"\b(\w+)\(\)", r"\1", s)
    first = s.split(" ")[0]
    # "Cancels f" -> "cancels f", "A promise" -> "a promise"; "FUT_..." stays
    return s[0].lower() + s[1:] if first[1:] == first[1:].lower() else s


def code_block(decls, with_docs=True):
    """Literal display of declarations, each with its comment."""
    out = [".Bd -literal"]
    first = True
    for d in decls:
        if not first:
            out.append("")
        first = False
        if with_docs and d.doc is not None:
            out.extend(esc_literal(l) for l in d.doc.raw)
        out.extend(esc_literal(l) for l in d.code)
    out.append(".Ed")
    return out


def xrefs(names):
    names = sorted(set(names), key=lambda x: (x.lower(), x))
    out = []
    for k, nm in enumerate(names):
        out.append(f".Xr {nm} 3" + (" ," if k < len(names) - 1 else ""))
    return out


def page_head(title, version, names, desc):
    out = [
        '.\\" SPDX-License-Identifier: MIT',
        f'.\\" Generated by {GENERATOR} from include/futures.h: edit the header,',
        '.\\" then run `make man`.',
        ".Dd @DATE@",
        f".Dt {title.upper()} 3",
        ".Os",
        ".Sh NAME",
    ]
    for k, nm in enumerate(names):
        out.append(f".Nm {nm}" + (" ," if k < len(names) - 1 else ""))
    out.append(f".Nd {esc(desc)}")
    out += [".Sh LIBRARY", "libfutures", ".Pq Fl lfutures Fl pthread"]
    return out


def header_version(sections):
    vals = {}
    for sec in sections:
        for d in sec.decls:
            if d.kind == "macro" and d.name.startswith("FUTURES_VERSION_"):
                m = re.match(r"#\s*define\s+\w+\s+(\d+)", d.code[0].strip())
                if m:
                    vals[d.name[len("FUTURES_VERSION_"):]] = m.group(1)
    try:
        return f"{vals['MAJOR']}.{vals['MINOR']}.{vals['PATCH']}"
    except KeyError:
        raise HeaderError("the header defines no FUTURES_VERSION_MAJOR/MINOR/PATCH")


def build_pages(header):
    top, sections = parse_header(header)
    version = header_version(sections)
    pages = {}          # name -> list of lines
    aliases = {}        # alias -> page

    conventions = [s for s in sections if "convention" in s.title.lower()]
    if len(conventions) != 1:
        raise HeaderError(f"{header}: expected one 'Conventions' section")
    conv = conventions[0]
    others = [s for s in sections if s is not conv]

    def section_page(sec):
        tm = sec.types_and_macros()
        types = [d for d in tm if d.kind == "type"]
        if types:
            return types[0].name
        if tm:     # macros only: the shortest name (FUTURES_VERSION)
            return min((d.name for d in tm), key=lambda x: (len(x), x))
        return "futures"

    all_functions = [d.name for s in sections for d in s.functions()]
    dup = {x for x in all_functions if all_functions.count(x) > 1}
    if dup:
        raise HeaderError(f"{header}: declared twice: {', '.join(sorted(dup))}")
    sec_pages = []

    # the section pages
    for sec in others:
        tm = sec.types_and_macros()
        if not tm:
            continue
        name = section_page(sec)
        sec_pages.append(name)
        # (a type named like a function, enum future_state, is left to the
        # function's page: listing it here would make that a self-reference)
        names = [name] + [d.name for d in tm
                          if d.name != name and d.name not in all_functions]
        for d in tm:
            if d.name != name:
                aliases[d.name] = name
        desc = first_sentence(sec.prose, cut_colon=True) if sec.prose else sec.title
        p = page_head(name, version, names, desc)
        p += [".Sh SYNOPSIS", ".In futures.h"]
        p += code_block(tm)
        p += [".Sh DESCRIPTION"]
        p += prose_to_mdoc(sec.prose) if sec.prose else [esc(sec.title) + "."]
        fns = sec.functions()
        if fns:
            p += [".Pp", "The functions of this part of the library:", ".Bl -tag -width Ds"]
            for d in fns:
                p += [f".It Xr {d.name} 3"] + text_lines(first_sentence(d.doc.lines) + ".")
            p += [".El"]
        p += [".Sh SEE ALSO"]
        p += xrefs(["futures"] + [d.name for d in fns])
        pages[name] = p

    # the function pages
    for sec in sections:
        home = "futures" if sec is conv else section_page(sec)
        fns = sec.functions()
        for d in fns:
            flat = " ".join(strip_comments("\n".join(d.code)).split())
            ret, name, args = split_declaration(flat)
            p = page_head(name, version, [name], first_sentence(d.doc.lines))
            p += [".Sh SYNOPSIS", ".In futures.h", f".Ft {ret}", f".Fo {name}"]
            p += [f'.Fa "{a}"' for a in args] if args else [".Fa void"]
            p += [".Fc", ".Sh DESCRIPTION"]
            p += prose_to_mdoc(d.doc.lines)
            p += [".Sh SEE ALSO"]
            p += xrefs({"futures", home} | {f.name for f in fns if f.name != name} - {name})
            pages[name] = p

    # the overview
    names = ["futures"]
    title_line = top[0] if top else "futures.h"
    desc = title_line.split(" - ", 1)[1] if " - " in title_line else "libfutures"
    desc = re.sub(r"^libfutures:\s*", "", desc)
    p = page_head("futures", version, names, desc)
    p += [".Sh SYNOPSIS", ".In futures.h"]
    tm = conv.types_and_macros()
    for d in tm:
        aliases[d.name] = "futures"
    if tm:
        p += code_block(tm)
    p += [".Sh DESCRIPTION"]
    p += text_lines(f"This manual describes libfutures {version}.")
    p += [".Pp"]
    p += prose_to_mdoc(top[1:])
    p += [".Ss " + esc(conv.title)]
    p += prose_to_mdoc(conv.prose)
    p += [".Ss Pages", "Each part of the header has its page:", ".Bl -tag -width Ds"]
    for sec in others:
        if sec.types_and_macros():
            p += [f".It Xr {section_page(sec)} 3", esc(sec.title) + "."]
    p += [".El", ".Pp", "Each function has its own page:", ".Bl -tag -width Ds"]
    for sec in sections:
        for d in sec.functions():
            p += [f".It Xr {d.name} 3"] + text_lines(first_sentence(d.doc.lines) + ".")
    p += [".El"]
    p += [".Sh SEE ALSO"]
    p += xrefs(sec_pages + [d.name for d in conv.functions()])
    pages["futures"] = p
    missing_alias_targets = [a for a, t in aliases.items() if t not in pages]
    if missing_alias_targets:
        raise HeaderError(f"aliases without a page: {missing_alias_targets}")
    # A type named like a function (enum future_state and future_state())
    # is found through the function's SEE ALSO, not by a link over its page.
    for a in set(aliases) & set(pages):
        del aliases[a]
    return pages, aliases


def fut_api_names(header):
    """Every FUT_API function name, read independently of the parser."""
    with open(header, encoding="utf-8") as fh:
        text = strip_comments(fh.read())
    names = set()
    for m in re.finditer(r"\bFUT_API\b([^;]*);", text):
        decl = " ".join(m.group(1).split())
        mm = re.search(r"\b(\w+)\s*\(", decl)
        if mm and "define" not in decl:
            names.add(mm.group(1))
    return names


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------

def read(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def undated(text):
    return re.sub(r"^\.Dd .*$", ".Dd", text, count=1, flags=re.M) if text is not None else None


def render(lines, date):
    return "\n".join(lines).replace("@DATE@", date) + "\n"


def render_aliases(aliases):
    out = ["# SPDX-License-Identifier: MIT",
           f"# Generated by {GENERATOR}: ALIAS PAGE, one per line; `make install`",
           "# links man3/ALIAS.3 to man3/PAGE.3."]
    out += [f"{a} {aliases[a]}" for a in sorted(aliases)]
    return "\n".join(out) + "\n"


def today():
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    d = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).date()
         if epoch else datetime.date.today())
    return f"{d.strftime('%B')} {d.day}, {d.year}"


def write(header, mandir):
    pages, aliases = build_pages(header)
    man3 = os.path.join(mandir, "man3")
    os.makedirs(man3, exist_ok=True)
    changed = 0
    for name, lines in pages.items():
        path = os.path.join(man3, name + ".3")
        old = read(path)
        new_undated = undated(render(lines, ""))
        if old is not None and undated(old) == new_undated:
            continue
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(render(lines, today()))
        changed += 1
    removed = 0
    for f in sorted(os.listdir(man3)):
        if f.endswith(".3") and f[:-2] not in pages:
            os.remove(os.path.join(man3, f))
            removed += 1
    apath = os.path.join(mandir, "aliases")
    if read(apath) != render_aliases(aliases):
        with open(apath, "w", encoding="utf-8") as fh:
            fh.write(render_aliases(aliases))
        changed += 1
    print(f"gen-man: {len(pages)} pages, {len(aliases)} aliases in {mandir}: "
          f"{changed} written, {removed} removed")


def check(header, mandir):
    pages, aliases = build_pages(header)
    man3 = os.path.join(mandir, "man3")
    bad = []
    for fn in sorted(fut_api_names(header)):
        if fn not in pages:
            bad.append(f"{fn}: a FUT_API function without a page")
    for name, lines in sorted(pages.items()):
        path = os.path.join(man3, name + ".3")
        old = read(path)
        if old is None:
            bad.append(f"{path}: missing")
        elif undated(old) != undated(render(lines, "")):
            bad.append(f"{path}: stale (the header changed since it was generated)")
    if os.path.isdir(man3):
        for f in sorted(os.listdir(man3)):
            if f.endswith(".3") and f[:-2] not in pages:
                bad.append(f"{os.path.join(man3, f)}: no longer generated (a function or type went away)")
    if read(os.path.join(mandir, "aliases")) != render_aliases(aliases):
        bad.append(f"{os.path.join(mandir, 'aliases')}: stale")
    for b in bad:
        print(f"gen-man: {b}", file=sys.stderr)
    if bad:
        print("gen-man: run `make man` and commit man/", file=sys.stderr)
        return 1
    print(f"gen-man: {len(pages)} pages and {len(aliases)} aliases in {mandir} are up to date")
    return 0


def main(argv):
    args = argv[1:]
    do_check = False
    if args and args[0] == "--check":
        do_check = True
        args = args[1:]
    header = args[0] if len(args) > 0 else "include/futures.h"
    mandir = args[1] if len(args) > 1 else "man"
    try:
        if do_check:
            return check(header, mandir)
        write(header, mandir)
        return 0
    except HeaderError as e:
        print(f"gen-man: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
