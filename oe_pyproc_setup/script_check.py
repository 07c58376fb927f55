"""Static check of a processor script against the script contract (DESIGN §3), before anything runs it.

The script is parsed, never imported: a check must not run the user's code or need their Home's packages.
Each finding carries the line (and column) it is about, so editors and people can jump to it.
"""

from __future__ import annotations

import ast
import difflib
import io
import tokenize
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.fsutil import read_regular_bytes

CLASS_NAME = "PyProcessor"
Severity = Literal["error", "warning", "info"]

# Each method the plugin calls, with the arguments it passes after `self`, in order.
REQUIRED_METHODS: dict[str, tuple[str, ...]] = {
    "__init__": ("processor", "num_channels", "sample_rate"),
    "process": ("data",),
}
OPTIONAL_METHODS: dict[str, tuple[str, ...]] = {
    "start_acquisition": (),
    "stop_acquisition": (),
    "start_recording": ("recording_dir",),
    "stop_recording": (),
    "handle_ttl_event": ("source_node", "channel", "sample_number", "line", "state"),
    "handle_spike": (
        "source_node",
        "electrode_name",
        "num_channels",
        "num_samples",
        "sample_number",
        "sorted_id",
        "spike_data",
    ),
}
CONTRACT_METHODS = {**REQUIRED_METHODS, **OPTIONAL_METHODS}
# Container methods that keep a reference to their argument.
KEEPING_METHODS = frozenset(
    {"append", "extend", "insert", "add", "put", "put_nowait", "appendleft", "setdefault"}
)
# How alike a name must be to a contract method to be reported as a likely misspelling of it.
MISSPELLING_CUTOFF = 0.75


@dataclass(frozen=True)
class Finding:
    severity: Severity
    line: int
    column: int
    message: str
    hint: str = ""

    def render(self, path: Path) -> str:
        text = f"{path}:{self.line}:{self.column}: {self.severity}: {self.message}"
        return f"{text}\n    {self.hint}" if self.hint else text

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CheckResult:
    path: Path
    findings: list[Finding]
    methods: frozenset[str] = frozenset()  # the methods class PyProcessor defines (empty if none found)

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def render(self) -> str:
        return "\n".join(finding.render(self.path) for finding in self.findings)


def _contract_signature(name: str) -> str:
    return f"def {name}(self{''.join(', ' + argument for argument in CONTRACT_METHODS[name])})"


def _accepts(function: ast.FunctionDef | ast.AsyncFunctionDef, count: int) -> bool:
    """Whether the method can be called with `count` positional arguments after `self`."""
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    given = count if function_is_static(function) else count + 1  # + self
    required = len(positional) - len(arguments.defaults)
    required_keyword_only = [
        arg for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults) if default is None
    ]
    if required_keyword_only:
        return False
    if arguments.vararg is not None:
        return given >= required
    return required <= given <= len(positional)


def function_is_static(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in function.decorator_list)


def _parameter_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    names = [arg.arg for arg in (*function.args.posonlyargs, *function.args.args)]
    return names if function_is_static(function) else names[1:]


def _check_signature(function: ast.FunctionDef | ast.AsyncFunctionDef, findings: list[Finding]) -> None:
    name = function.name
    expected = CONTRACT_METHODS[name]
    if isinstance(function, ast.AsyncFunctionDef):
        findings.append(
            Finding(
                "error",
                function.lineno,
                function.col_offset + 1,
                f"{CLASS_NAME}.{name} is `async def`; the plugin calls it as a plain method, never awaited",
                hint=f"Use {_contract_signature(name)}:",
            )
        )
        return
    if not _accepts(function, len(expected)):
        findings.append(
            Finding(
                "error",
                function.lineno,
                function.col_offset + 1,
                f"{CLASS_NAME}.{name} takes ({', '.join(_parameter_names(function)) or 'no arguments'}) "
                f"but the plugin calls it with {len(expected)} argument{'s' if len(expected) != 1 else ''} "
                f"({', '.join(expected) or 'none'})",
                hint=f"Use {_contract_signature(name)}:",
            )
        )
        return
    names = _parameter_names(function)[: len(expected)]
    if sorted(names) == sorted(expected) and names != list(expected):
        findings.append(
            Finding(
                "warning",
                function.lineno,
                function.col_offset + 1,
                f"{CLASS_NAME}.{name} names its arguments ({', '.join(names)}) in another order than "
                f"the plugin passes them ({', '.join(expected)}); they are passed by position",
                hint=f"Use {_contract_signature(name)}:",
            )
        )


def _targets_name(target: ast.expr, name: str) -> bool:
    if isinstance(target, ast.Name):
        return target.id == name
    if isinstance(target, (ast.Tuple, ast.List)):
        return any(_targets_name(element, name) for element in target.elts)
    if isinstance(target, ast.Starred):
        return _targets_name(target.value, name)
    return False


def _is_block_or_view(value: ast.expr, name: str) -> bool:
    """`data` itself (or `data.T`) or a view of it."""
    while isinstance(value, ast.Attribute) and value.attr == "T":
        value = value.value
    return (isinstance(value, ast.Name) and value.id == name) or _is_view_of(value, name)


def _is_view_of(value: ast.expr, name: str) -> bool:
    """`data[...]` (and `data[...].T`) are views of the block: writing into them later still reaches it."""
    while isinstance(value, ast.Attribute) and value.attr == "T":
        value = value.value
    return isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name) and value.value.id == name


class _ProcessBodyVisitor(ast.NodeVisitor):
    """Finds how `process` can lose its work (rebinding `data`, returning a new array) and what keeping the
    block costs."""

    def __init__(self, data_name: str, findings: list[Finding]) -> None:
        self.data_name = data_name
        self.findings = findings

    # Nested functions and classes have their own scopes: their `data` is not the block.
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        return

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        return

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        return

    def _rebinding(self, node: ast.stmt, value: ast.expr | None) -> None:
        if value is not None and _is_view_of(value, self.data_name):
            return
        name = self.data_name
        self.findings.append(
            Finding(
                "warning",
                node.lineno,
                node.col_offset + 1,
                f"`{name} = ...` in process() rebinds the name {name!r} to a new array; the plugin keeps the "
                "original block, so these values never reach the output",
                hint=f"Write into the block: `{name}[:] = ...` or an in-place operator (`{name} *= 2`).",
            )
        )

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(_targets_name(target, self.data_name) for target in node.targets):
            self._rebinding(node, node.value)
        elif _is_block_or_view(node.value, self.data_name) and any(
            isinstance(t, (ast.Attribute, ast.Subscript)) for t in node.targets
        ):
            self._keeping(node, node.value, "keeps {kept} after it returns")
        self.generic_visit(node)

    def _keeping(self, node: ast.expr | ast.stmt, kept: ast.expr, how: str) -> None:
        """Keeping the block or a view of it works (copy-on-keep, DESIGN §3); its cost is worth knowing."""
        what = f"`{ast.unparse(kept)}`"
        self.findings.append(
            Finding(
                "info",
                node.lineno,
                node.col_offset + 1,
                f"process() {how.format(kept=what)}: it holds that block's values later (copy-on-keep), "
                "at the cost of up to one allocation and one copy of the whole block for each block "
                "something is kept from",
                hint=(
                    f"Nothing to fix. To pay only for what you keep, keep a copy ({what[:-1]}.copy()`): "
                    "a view keeps its whole block."
                    if _is_view_of(kept, self.data_name)
                    else f"Nothing to fix: a copy ({what[:-1]}.copy()`) would cost the same."
                ),
            )
        )

    def visit_Call(self, node: ast.Call) -> None:
        # `self.blocks.append(data)` and the like keep the block as surely as `self.kept = data`.
        storing = isinstance(node.func, ast.Attribute) and node.func.attr in KEEPING_METHODS
        kept = [arg for arg in node.args if _is_block_or_view(arg, self.data_name)]
        if storing and kept:
            self._keeping(node, kept[0], "stores {kept} in a container")
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None and _targets_name(node.target, self.data_name):
            self._rebinding(node, node.value)
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        if _targets_name(node.target, self.data_name):
            self._rebinding(node, None)
        self.generic_visit(node)

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            if item.optional_vars is not None and _targets_name(item.optional_vars, self.data_name):
                self._rebinding(node, None)
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None and not (isinstance(node.value, ast.Constant) and node.value.value is None):
            self.findings.append(
                Finding(
                    "warning",
                    node.lineno,
                    node.col_offset + 1,
                    "process() returns a value; the plugin ignores it and passes on the block itself",
                    hint=f"Write the result into the block (`{self.data_name}[:] = ...`), return nothing.",
                )
            )
        self.generic_visit(node)


def _check_process_body(function: ast.FunctionDef, findings: list[Finding]) -> None:
    names = _parameter_names(function)
    if not names:
        return
    visitor = _ProcessBodyVisitor(names[0], findings)
    for statement in function.body:
        visitor.visit(statement)


def _misspelling(name: str) -> str | None:
    if name.startswith("_") or name in CONTRACT_METHODS:
        return None
    candidates = [method for method in OPTIONAL_METHODS if method.startswith(name) or name.startswith(method)]
    close = difflib.get_close_matches(name, list(CONTRACT_METHODS), n=1, cutoff=MISSPELLING_CUTOFF)
    if close:
        return close[0]
    # A truncated name (`handle_ttl`, `start_recor`) is a near miss even when it is much shorter.
    return candidates[0] if len(candidates) == 1 and len(name) >= 6 else None


def _syntax_error_finding(error: SyntaxError) -> Finding:
    line = error.lineno or 1
    column = error.offset or 1
    text = (error.text or "").rstrip("\n")
    hint = f"{text}\n    {' ' * max(column - 1, 0)}^" if text.strip() else ""
    return Finding("error", line, column, f"syntax error: {error.msg}", hint=hint)


def check_source(source: str, path: Path) -> CheckResult:
    """Check the text of a script; `path` is used in the messages only."""
    findings: list[Finding] = []
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as error:
        return CheckResult(path, [_syntax_error_finding(error)])
    except ValueError as error:  # e.g. null bytes in the source
        return CheckResult(path, [Finding("error", 1, 1, f"cannot be parsed as Python: {error}")])

    classes = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == CLASS_NAME]
    if not classes:
        others = [node for node in tree.body if isinstance(node, ast.ClassDef)]
        near = difflib.get_close_matches(CLASS_NAME, [c.name for c in others], n=1, cutoff=0.6)
        if near:
            found = next(c for c in others if c.name == near[0])
            findings.append(
                Finding(
                    "error",
                    found.lineno,
                    found.col_offset + 1,
                    f"no class {CLASS_NAME} at the top level of the script; class {near[0]!r} looks like it",
                    hint=f"The plugin looks for exactly `class {CLASS_NAME}:`.",
                )
            )
        else:
            findings.append(
                Finding(
                    "error",
                    1,
                    1,
                    f"no class {CLASS_NAME} at the top level of the script: the plugin has nothing to create",
                    hint="Start from a template: oe-pyproc new-script NAME --template processor",
                )
            )
        return CheckResult(path, findings)

    if len(classes) > 1:
        for duplicate in classes[:-1]:
            findings.append(
                Finding(
                    "warning",
                    duplicate.lineno,
                    duplicate.col_offset + 1,
                    f"class {CLASS_NAME} is defined again at line {classes[-1].lineno}; only the last counts",
                )
            )
    cls = classes[-1]
    methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            methods[node.name] = node
    inherits = bool(cls.bases)

    for name in REQUIRED_METHODS:
        if name not in methods and not inherits:
            findings.append(
                Finding(
                    "error",
                    cls.lineno,
                    cls.col_offset + 1,
                    f"class {CLASS_NAME} has no {name}() method; the plugin calls it",
                    hint=f"Add {_contract_signature(name)}:",
                )
            )
    for name, function in methods.items():
        if name in CONTRACT_METHODS:
            _check_signature(function, findings)
            if name == "process" and isinstance(function, ast.FunctionDef):
                _check_process_body(function, findings)
            continue
        suggestion = _misspelling(name)
        if suggestion and suggestion not in methods:
            findings.append(
                Finding(
                    "warning",
                    function.lineno,
                    function.col_offset + 1,
                    f"{CLASS_NAME}.{name} is never called by the plugin; did you mean {suggestion}?",
                    hint=f"The plugin calls {_contract_signature(suggestion)}:",
                )
            )

    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if node.name in CONTRACT_METHODS and node.name not in methods:
            findings.append(
                Finding(
                    "warning",
                    node.lineno,
                    node.col_offset + 1,
                    f"{node.name}() is a module-level function, not a method of {CLASS_NAME}: "
                    "the plugin never calls it",
                    hint=f"Indent it into class {CLASS_NAME} (line {cls.lineno}).",
                )
            )
    findings.sort(key=lambda finding: (finding.line, finding.column))
    return CheckResult(path, findings, frozenset(methods))


def check_script(path: Path) -> CheckResult:
    """Check a script file; an unreadable file is a UserFacingError."""
    path = Path(path)
    if not path.exists():
        raise UserFacingError(f"script {path} does not exist")
    if path.is_dir():
        raise UserFacingError(f"script {path} is a folder; give the .py file that defines class {CLASS_NAME}")
    try:
        data = read_regular_bytes(path)  # a FIFO would block for ever, /dev/zero would fill the memory
    except OSError as error:
        raise UserFacingError(f"cannot read script {path}: {error.strerror or error}") from None
    # Python (and so the plugin) reads a script in the encoding its coding declaration names, else UTF-8.
    declaration_error = None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:  # an unknown coding, one contradicting a UTF-8 BOM, or non-UTF-8 bytes
        encoding, declaration_error = "utf-8-sig", error.msg
    try:
        source = data.decode(encoding)
    except UnicodeDecodeError as error:
        name = "UTF-8" if encoding.startswith("utf-8") else f"{encoding} (its coding declaration)"
        return CheckResult(
            path,
            [Finding("error", data[: error.start].count(b"\n") + 1, 1, f"the script is not {name} text")],
        )
    if declaration_error is not None:
        return CheckResult(
            path, [Finding("error", 1, 1, f"Python cannot read the script: {declaration_error}")]
        )
    return check_source(source, path)
