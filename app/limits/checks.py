"""The limits on one GraphQL request, enforced before anything executes.

- Depth, aliases and tokens: strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter``
  rules and the parser's ``max_tokens`` (set as strawberry's ``MaxTokensLimiter`` would),
  whose refusals are given a code here (``QUERY_TOO_DEEP``,
  ``TOO_MANY_ALIASES``, ``TOO_MANY_TOKENS``), the limit and the measured value. These depend
  on the document alone, so they are validation rules and share the validation cache.
- ``first`` (``FIRST_TOO_LARGE``), cost (``QUERY_TOO_COSTLY``) and the budget
  (``RATE_LIMITED``) depend on the variables and on who asks, which validation never sees
  (and the cache must not remember): ``GuardCost`` checks them after validation, at the
  start of execution, and answers in place of executing.
- Introspection off (``INTROSPECTION_DISABLED``): graphql-core's own rule; "Did you mean"
  suggestions are then cut from every message, since they too describe the schema.
- Repetition (``TOO_MANY_DUPLICATE_FIELDS``, ``DIRECTIVE_REPEATED``): ``repetition.py``'s
  rules, each answering once; the latter replaces graphql-core's rule, which answers once
  per repeat.

A document a limit refuses is answered with that refusal alone: the other validation errors
of a document built to amplify (a field repeated 500 times with conflicting arguments) would
make the answer as large as the attack.

Every refusal is a ``QueryRefused`` (a ``GatewayError``), so that ``PresentErrors`` shows
its code; ``GuardCost`` counts refusals by code for ``/metrics``. The parser's refusal is
the exception: raised under ``ParserCache``, it leaves the operation before any extension
sees it, so the GraphQL view gives it its code (``present_parse_refusal``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from typing import Any, cast

from graphql import (
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    ValidationContext,
)
from graphql.validation import (
    ASTValidationRule,
    NoSchemaIntrospectionCustomRule,
    UniqueDirectivesPerLocationRule,
)
from strawberry.extensions import (
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.extensions.max_aliases import count_fields_with_alias
from strawberry.extensions.query_depth_limiter import determine_depth

from app.limits.budget import CostBudget
from app.limits.cost import OperationCost, OperationCosts, UnmeasurableOperation
from app.limits.refusal import QueryRefused, refusal_error
from app.limits.repetition import RepeatedDirectives, duplicate_fields_rule
from app.limits.settings import QueryLimitSettings

#: graphql-core's message when the parser stops at ``max_tokens``.
_TOO_MANY_TOKENS = re.compile(r"Document contains more than (\d+) tokens")
#: graphql-core appends suggestions to a message after this.
_SUGGESTION = " Did you mean"

CountRefusal = Callable[[str], None]


# --- document rules (validation) -----------------------------------------------------------

Measure = Callable[[ValidationContext], QueryRefused]


class _FirstRefusal:
    """A ``ValidationContext`` for a library rule: its first error becomes ``QueryRefused``.

    strawberry's depth limiter reports one error per path that is too deep; one refusal,
    with the limit and the measured value, says it all.
    """

    def __init__(self, context: ValidationContext, measure: Measure) -> None:
        self._context = context
        self._measure = measure
        self._reported = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def report_error(self, error: GraphQLError) -> None:
        if self._reported:
            return
        self._reported = True
        self._context.report_error(refusal_error(self._measure(self._context), error.nodes))


def _coded(rule: type[ASTValidationRule], measure: Measure) -> type[ASTValidationRule]:
    """``rule`` (a strawberry limiter's rule), reporting one coded refusal."""

    class Coded(rule):  # type: ignore[valid-type, misc]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(cast(ValidationContext, _FirstRefusal(context, measure)))

    Coded.__name__ = f"Coded{rule.__name__}"
    return Coded


def _operations(context: ValidationContext) -> list[OperationDefinitionNode]:
    return [d for d in context.document.definitions if isinstance(d, OperationDefinitionNode)]


def _fragments(context: ValidationContext) -> dict[str, FragmentDefinitionNode]:
    return {
        d.name.value: d
        for d in context.document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }


def measured_depth(context: ValidationContext) -> int:
    """The deepest operation's depth, by strawberry's own measure (no limit to stop at)."""
    fragments = _fragments(context)
    return max(
        (
            determine_depth(op, fragments, 0, sys.maxsize, context, "operation", None)
            for op in _operations(context)
        ),
        default=0,
    )


def measured_aliases(context: ValidationContext) -> int:
    """Aliases in the document's operations, by strawberry's own count."""
    fragments = _fragments(context)
    return sum(count_fields_with_alias(op, fragments) for op in _operations(context))


def document_rules(
    limits: QueryLimitSettings, *, introspection: bool
) -> list[type[ASTValidationRule]]:
    """Validation rules for ``limits``: build once per app, so the validation cache hits."""
    depth_rule = QueryDepthLimiter(max_depth=limits.max_depth).validation_rules[0]
    alias_rule = MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules[0]
    rules: list[type[ASTValidationRule]] = [
        _coded(
            depth_rule,
            lambda context: QueryRefused(
                "QUERY_TOO_DEEP",
                f"the query is nested deeper than {limits.max_depth}",
                limit=limits.max_depth,
                measured=measured_depth(context),
            ),
        ),
        _coded(
            alias_rule,
            lambda context: QueryRefused(
                "TOO_MANY_ALIASES",
                f"the query has more than {limits.max_aliases} aliases",
                limit=limits.max_aliases,
                measured=measured_aliases(context),
            ),
        ),
        duplicate_fields_rule(limits.max_duplicate_fields),
        RepeatedDirectives,
    ]
    if not introspection:
        rules.append(
            _coded(
                NoSchemaIntrospectionCustomRule,
                lambda context: QueryRefused(
                    "INTROSPECTION_DISABLED", "introspection is disabled", limit=0
                ),
            )
        )
    return rules


def limit_extensions(
    limits: QueryLimitSettings,
    *,
    introspection: bool,
    budget: CostBudget | None,
    count_refusal: CountRefusal,
) -> list[Callable[[], SchemaExtension]]:
    """The schema extensions that enforce ``limits``, as factories for ``build_schema``.

    Put them after ``PresentErrors``: ``GuardCost`` must finish before it, so that the
    refusals it recodes are presented with their codes.
    """
    # Shared by every request's GuardCost: the orders and costs they remember are the point.
    rule_order = RuleOrder(tuple(document_rules(limits, introspection=introspection)))
    costs = OperationCosts()
    return [
        lambda: GuardCost(
            limits,
            rule_order=rule_order,
            costs=costs,
            budget=budget,
            count_refusal=count_refusal,
            hide_suggestions=not introspection,
        ),
    ]


# --- request checks (after validation) -----------------------------------------------------

#: Distinct incoming rule sets remembered by ``RuleOrder``: strawberry hands every request
#: the same few (its specified rules, and what other extensions add).
REMEMBERED_RULE_SETS = 8


class RuleOrder:
    """The validation rules a request runs: the limits' ``rules`` first (graphql-core stops
    validating at 100 errors, and a document built to amplify must meet its refusal before
    it reaches them), then the incoming ones less ``UniqueDirectivesPerLocationRule``
    (``RepeatedDirectives`` answers once for what that rule answers once per repeat).

    Remembered by the incoming rules themselves (a tuple of classes, compared by content):
    rebuilding the tuple on every request was a generator call per rule, about 32 Python
    calls a request (``bench.calls --case lookup_by_phone``). Bounded by
    ``REMEMBERED_RULE_SETS``; a set beyond it is ordered anew, not remembered.
    """

    def __init__(self, rules: tuple[type[ASTValidationRule], ...]) -> None:
        self._rules = rules
        self._ordered: dict[
            tuple[type[ASTValidationRule], ...], tuple[type[ASTValidationRule], ...]
        ] = {}

    def ordered(
        self, incoming: tuple[type[ASTValidationRule], ...]
    ) -> tuple[type[ASTValidationRule], ...]:
        """The rules to run, for ``incoming``."""
        found = self._ordered.get(incoming)
        if found is not None:
            return found
        kept = tuple(r for r in incoming if r is not UniqueDirectivesPerLocationRule)
        found = (*self._rules, *kept)
        if len(self._ordered) < REMEMBERED_RULE_SETS:
            self._ordered[incoming] = found
        return found


class GuardCost(SchemaExtension):
    """Sets the token limit and the document rules, and refuses a validated operation over
    ``first``, its role's cost or its budget.

    The token limit and the rules are what strawberry's ``MaxTokensLimiter`` and
    ``AddValidationRules`` would set; set here because strawberry builds every extension's
    hooks anew for each request, and two fewer extensions is CPU on every request.
    The cost runs at the start of execution, where the variables and the principal are
    known, and answers in place of executing: no resolver runs, so no system, store or audit
    sees it.
    """

    def __init__(
        self,
        limits: QueryLimitSettings,
        *,
        rules: tuple[type[ASTValidationRule], ...] = (),
        rule_order: RuleOrder | None = None,
        costs: OperationCosts | None = None,
        budget: CostBudget | None,
        count_refusal: CountRefusal,
        hide_suggestions: bool,
    ) -> None:
        super().__init__()
        self._limits = limits
        self._rule_order = rule_order if rule_order is not None else RuleOrder(rules)
        self._costs = costs if costs is not None else OperationCosts()
        self._budget = budget
        self._count_refusal = count_refusal
        self._hide_suggestions = hide_suggestions

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self._limits.max_tokens
        context.validation_rules = self._rule_order.ordered(tuple(context.validation_rules))
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is None or not errors:
            return
        refusals = [e for e in errors if isinstance(e.original_error, QueryRefused)]
        result.errors = refusals or [self._recoded(error) for error in errors]
        for error in result.errors:
            if isinstance(error.original_error, QueryRefused):
                self._count_refusal(error.original_error.code)

    def _recoded(self, error: GraphQLError) -> GraphQLError:
        if not (
            self._hide_suggestions and error.original_error is None and _SUGGESTION in error.message
        ):
            return error
        # A copy: validation errors are shared with the validation cache.
        return GraphQLError(
            error.message.split(_SUGGESTION, 1)[0],
            error.nodes,
            error.source,
            error.positions,
            error.path,
            extensions=error.extensions,
        )

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.result is None and context.graphql_document is not None:
            refused = await self._refusal()
            if refused is not None:
                context.result = ExecutionResult(data=None, errors=[refusal_error(refused)])
        yield

    async def _refusal(self) -> QueryRefused | None:
        context = self.execution_context
        try:
            measured = self._costs.cost(
                context.schema._schema,
                context.query,
                cast(Any, context.graphql_document),
                context.operation_name,
                context.variables,
            )
        except UnmeasurableOperation:
            return None
        principal = getattr(context.context, "principal", None)
        role = str(getattr(principal, "role", ""))
        subject = str(getattr(principal, "subject", ""))
        return (
            self._over_first(measured)
            or self._over_cost(measured, role)
            or (await self._over_budget(measured, role, subject))
        )

    def _over_first(self, measured: OperationCost) -> QueryRefused | None:
        largest = measured.largest_first()
        limit = self._limits.max_first
        if largest is None or largest.value <= limit:
            return None
        return QueryRefused(
            "FIRST_TOO_LARGE",
            f"first must be at most {limit} (at {largest.path})",
            limit=limit,
            measured=largest.value,
            path=largest.path,
        )

    def _over_cost(self, measured: OperationCost, role: str) -> QueryRefused | None:
        limit = self._limits.max_cost_for(role)
        if measured.cost <= limit:
            return None
        return QueryRefused(
            "QUERY_TOO_COSTLY",
            f"the query costs {measured.cost}, more than {limit} allowed per query",
            limit=limit,
            measured=measured.cost,
        )

    async def _over_budget(
        self, measured: OperationCost, role: str, subject: str
    ) -> QueryRefused | None:
        note = noted_cost.get()
        if note is not None:
            note.cost = measured.cost
        return await budget_refusal(self._limits, self._budget, role, subject, measured.cost)


class CostNote:
    """Where ``GuardCost`` notes the cost it measured, for an answer served again later
    (``app.whole_response``), which must be charged to its reader's budget as well."""

    __slots__ = ("cost",)

    def __init__(self) -> None:
        self.cost = 0


#: The note of the request under way, when its answer may be kept; None otherwise.
noted_cost: ContextVar[CostNote | None] = ContextVar("noted_cost", default=None)


async def budget_refusal(
    limits: QueryLimitSettings, budget: CostBudget | None, role: str, subject: str, cost: int
) -> QueryRefused | None:
    """``cost`` charged to the principal's budget; the refusal when it is spent."""
    if budget is None or not limits.budget_enabled or cost == 0:
        return None
    capacity = limits.budget_for(role)
    charge = await budget.charge(f"{role}:{subject}", capacity, cost)
    if charge.allowed:
        return None
    return QueryRefused(
        "RATE_LIMITED",
        f"the cost budget of {capacity} per minute is spent; retry in {charge.retry_after} s",
        limit=capacity,
        measured=cost,
        retryAfter=charge.retry_after,
    )


def present_parse_refusal(error: GraphQLError) -> GraphQLError:
    """``error`` with a code if it is a parse error: ``TOO_MANY_TOKENS`` (with the limit) when
    the parser stopped at ``max_tokens``, else ``GRAPHQL_PARSE_FAILED``.

    For the view to call: a parse error raised under ``ParserCache`` leaves the operation
    before any extension (``PresentErrors`` included) sees its result.
    """
    if not isinstance(error, GraphQLSyntaxError) or error.extensions:
        return error
    found = _TOO_MANY_TOKENS.search(error.message)
    if found is None:
        return GraphQLError(
            error.message,
            source=error.source,
            positions=error.positions,
            extensions={"code": "GRAPHQL_PARSE_FAILED"},
        )
    # The parser stops at the limit, so the document's full count is never known.
    limit = int(found.group(1))
    return GraphQLError(
        f"the query has more than {limit} tokens",
        extensions={"code": "TOO_MANY_TOKENS", "limit": limit},
    )
