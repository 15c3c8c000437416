"""The reviewer's dashboard as an ASGI application (Starlette, Jinja2 templates with autoescaping).

Pages: the desk (lanes, in-flight branches and their guard decisions,
conflicts), the handoff queue (filters, pages), one handoff (its diff,
evidence, history, and accept / reject / apply), the reviews (contract impact,
e2e matrix, the final decision) and the ledger timeline with its verify status.
Writes call the same core functions as ``lanewarden handoffs``, so they land in
the queue and the ledger under the identity of the person running the server.
Everything is rendered here; the core returns data.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from lanewarden.handoffs.apply import apply as apply_handoff
from lanewarden.handoffs.model import Action, Status
from lanewarden.handoffs.queue import Queue
from lanewarden.orchestrator.dashboard import desk
from lanewarden.orchestrator.dashboard.access import COOKIE, Access
from lanewarden.orchestrator.reports import builders, html
from lanewarden.workers.errors import InputError, LanewardenError
from lanewarden.workers.git import Git
from lanewarden.workers.identity import actor

HERE = Path(__file__).resolve().parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class Guard(BaseHTTPMiddleware):
    """Token or cookie on every request, this server's Host, and same-origin CSRF-checked writes."""

    def __init__(self, app: Any, access: Access) -> None:
        super().__init__(app)
        self.access = access

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        a = self.access
        if not a.host_ok(request.headers.get("host")):
            return PlainTextResponse("wrong Host: open the URL lanewarden serve printed", status_code=403)
        given = request.query_params.get("token")
        if given is not None and a.token_ok(given) and request.method == "GET":
            # Trade the token for a cookie and drop it from the address bar.
            rest = {k: v for k, v in request.query_params.items() if k != "token"}
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            response: Response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, a.token, httponly=True, samesite="strict", path="/")
            return _headers(response)
        if not a.token_ok(request.cookies.get(COOKIE)):
            return _headers(PlainTextResponse(
                "403: this dashboard needs its access token: open the URL `lanewarden serve` printed "
                "(http://127.0.0.1:PORT/?token=...)", status_code=403))
        if request.method == "POST":
            await request.body()  # kept, so the endpoint can read the form again after this check
            form = await request.form()
            csrf = form.get("csrf")
            if not (a.same_origin(request.headers.get("origin"), request.headers.get("referer"))
                    and a.csrf_ok(csrf if isinstance(csrf, str) else None)):
                return _headers(PlainTextResponse("403: a write must come from this dashboard's own form",
                                                  status_code=403))
        return _headers(await call_next(request))


def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def _int(value: str | None, default: int = 1) -> int:
    try:
        return max(1, int(value or default))
    except ValueError:
        return default


def create_app(repo: Git, access: Access) -> Starlette:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    cache = desk.Cache()
    who = actor(repo)[0]

    def fresh() -> Git:
        # One handle per request: a handle caches what names resolve to, and requests run in threads.
        return Git(repo.git_dir, repo.top, bare=repo.bare)

    def page(request: Request, git: Git, name: str, status: int = 200, **context: Any) -> Response:
        partial = request.query_params.get("partial") == "1"
        context.update(csrf=access.csrf, who=who, state=desk.state(git), partial=partial,
                       path=request.url.path, Status=Status)
        return templates.TemplateResponse(request, name, context, status_code=status)

    def index(request: Request) -> Response:
        git = fresh()
        o = cache.get(git)
        review_html = Markup(html.fragment(tuple(builders.final_doc(o.review).blocks))) if o.review else None
        return page(request, git, "desk.html", o=o, review_html=review_html)

    def handoffs(request: Request) -> Response:
        git = fresh()
        q = request.query_params
        result = desk.queue_page(git, target=q.get("target"), status=q.get("status"),
                                 contract=q.get("contract"), page=_int(q.get("page")))
        return page(request, git, "handoffs.html", q=result, query=lambda **kw: urlencode(
            {k: v for k, v in {**result.filters, **kw}.items() if v}))

    def handoff(request: Request) -> Response:
        git = fresh()
        try:
            stored = Queue(git).get(request.path_params["hid"])
        except InputError as exc:
            return page(request, git, "message.html", status=404, message=exc.message)
        h = stored.handoff
        return page(request, git, "handoff.html", h=h, diff=desk.diff_lines(h.proposed_change or ""),
                    message=request.query_params.get("msg"))

    def decide(git: Git, hid: str, verb: str, reason: str | None) -> str:
        """Run one write through the core (as ``lanewarden handoffs``); the message to show."""
        if verb == "apply":
            done = apply_handoff(git, Queue(git), hid)
            if done.commit is None:
                reasons = "; ".join(r for v in done.verdict.votes for r in v.reasons) or "no reason given"
                return f"not applied: the target's guard said {done.verdict.decision.value} ({reasons})"
            return f"applied on {done.branch} as {done.commit[:12]}"
        if verb == "reject" and reason is None:
            raise InputError("a rejection needs a reason")
        stored = Queue(git).transition(hid, Action(verb), reason=reason)
        return f"{stored.handoff.status.value} by {who}"

    async def act(request: Request) -> Response:
        hid, verb = request.path_params["hid"], request.path_params["verb"]
        if verb not in ("accept", "reject", "apply"):
            return PlainTextResponse("unknown action", status_code=404)
        git = fresh()
        form = await request.form()
        reason = str(form.get("reason") or "").strip() or None
        try:
            # git work off the event loop: other pages (and the live poll) keep answering meanwhile.
            msg = await run_in_threadpool(decide, git, hid, verb, reason)
            hid = Queue(git).resolve(hid)
        except LanewardenError as exc:
            msg = f"error: {exc.message}"
        return RedirectResponse(f"/handoffs/{quote(hid, safe='')}?{urlencode({'msg': msg})}", status_code=303)

    def reviews(request: Request) -> Response:
        git = fresh()
        o = cache.get(git)
        blocks: list[Any] = []
        if o.impact is not None:
            blocks += builders.impact_blocks(o.impact)
        matrix_html = Markup(html.fragment(tuple(builders.matrix_blocks(o.matrix)))) if o.matrix else None
        return page(request, git, "reviews.html", o=o, impact_html=Markup(html.fragment(tuple(blocks))),
                    matrix_html=matrix_html)

    def ledger(request: Request) -> Response:
        git = fresh()
        t = desk.timeline(git, _int(request.query_params.get("page")))
        return page(request, git, "ledger.html", t=t, summary=desk.summary)

    def live(request: Request) -> Response:
        git = fresh()
        return JSONResponse({"state": desk.state(git)})

    routes = [
        Route("/", index), Route("/handoffs", handoffs), Route("/handoffs/{hid:str}", handoff),
        Route("/handoffs/{hid:str}/{verb:str}", act, methods=["POST"]), Route("/reviews", reviews),
        Route("/ledger", ledger), Route("/state", live),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(Guard, access=access)])
