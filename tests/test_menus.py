"""Every Phone menu opens, as the web client opens it, for managers and plain users.

``TestPhoneMenus`` walks the menus a user can see under Phone (``load_menus``,
the navbar's own source) and, for each window action, makes the calls the web
client makes: ``get_views`` of all the action's views and its search view, then
the first page of each view (``web_search_read`` for lists and kanbans with the
view's field specification, ``formatted_read_group`` for graphs,
``formatted_read_grouping_sets`` for pivots, ``onchange`` of a new record and
``web_read`` of the first record for forms), under the action's domain, its
evaluated context and the domains of its default search filters.

``TestPhoneMenusTour`` clicks through the same menus in Chromium
(``static/tests/tours/phone_menus_tour.js``).
"""

import traceback
from datetime import timedelta

from lxml import etree

from odoo import fields
from odoo.fields import Domain
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged
from odoo.tools.safe_eval import datetime as safe_datetime
from odoo.tools.safe_eval import dateutil as safe_dateutil
from odoo.tools.safe_eval import safe_eval
from odoo.tools.safe_eval import time as safe_time

from odoo.addons.web.controllers.utils import clean_action

from .common import make_pbx, recent_start, setup_company

ROOT = "phone_call_accounting.phone_menu_root"
CONFIG = "phone_call_accounting.phone_config_menu"
# Menus with an action that every Phone user opens.
USER_MENUS = {
    "phone_call_accounting.phone_call_menu",
    "phone_call_accounting.phone_call_callback_menu",
    "phone_call_accounting.phone_call_report_menu",
    "phone_call_accounting.phone_call_report_hour_menu",
    "phone_call_accounting.phone_call_report_employee_menu",
    "phone_call_accounting.phone_call_report_queue_menu",
}
# ... and that a Phone manager opens too.
MANAGER_MENUS = USER_MENUS | {
    "phone_call_accounting.phone_wallboard_menu",
    "phone_call_accounting.phone_pbx_menu",
    "phone_call_accounting.phone_queue_menu",
    "phone_call_accounting.phone_client_type_menu",
    "phone_call_accounting.phone_tariff_menu",
    "phone_call_accounting.phone_keyword_menu",
    "phone_call_accounting.phone_call_picture_menu",
}
# ... and that a manager who is also a Settings administrator opens.
SYSTEM_MENUS = MANAGER_MENUS | {
    "phone_call_accounting.phone_settings_menu",
    "phone_call_accounting.res_users_menu",
}
# The server call each client action (by tag) makes when it opens.
CLIENT_ACTION_CALLS = {"phone_call_accounting.wallboard": ("phone.queue", "wallboard_data")}
# search/utils/misc.js: the fields a graph view groups by
GROUPABLE_TYPES = (
    "boolean",
    "char",
    "date",
    "datetime",
    "integer",
    "many2one",
    "many2many",
    "selection",
    "tags",
)


def _make_menu_users(env):
    """A Phone manager who is Settings administrator, one who is not, and a Phone user,
    in the company's zone (setup_company's): their Today is the calls' day, also
    in the hour after midnight there, when UTC's date is still yesterday's."""
    return {
        "manager": new_test_user(
            env,
            "phone_menu_manager",
            groups="phone_call_accounting.group_phone_manager,base.group_system",
            name="Menu Manager",
            tz="Europe/Amsterdam",
        ),
        "manager_no_system": new_test_user(
            env,
            "phone_menu_manager_nosys",
            groups="phone_call_accounting.group_phone_manager",
            name="Menu Manager Without Settings",
            tz="Europe/Amsterdam",
        ),
        "user": new_test_user(
            env,
            "phone_menu_user",
            groups="phone_call_accounting.group_phone_user",
            name="Menu User",
            tz="Europe/Amsterdam",
        ),
    }


def _make_menu_data(env):
    """Something on the first page of every Phone menu: calls of today, a PBX, a tariff..."""
    setup_company(env)
    make_pbx(env, name="Menu PBX")
    env["phone.tariff"].create({"name": "Netherlands", "prefix": "+31", "price_per_minute": 0.05})
    env["phone.keyword"].create({"name": "complaint"})
    env["res.partner"].create({"name": "Menu Client", "phone": "+31205550998"})
    start = recent_start(env, minutes_ago=5)
    results = env["phone.call"]._ingest_calls(
        [
            {
                "external_id": "menus-1",
                "direction": "incoming",
                "status": "answered",
                "from_number": "+31205550998",
                "to_number": "+31207940100",
                "start": start.isoformat() + "+00:00",
                "ring_seconds": 4,
                "talk_seconds": 65,
                "queue": "support",
                "queue_result": "answered",
                "queue_wait_seconds": 12,
                "queue_position": 1,
            },
            {
                "external_id": "menus-2",
                "direction": "incoming",
                "status": "missed",
                "from_number": "+31205550997",
                "to_number": "+31207940100",
                "start": (start + timedelta(minutes=1)).isoformat() + "+00:00",
                "ring_seconds": 20,
                # The To Call Back form shows its Queue group.
                "queue": "support",
                "queue_result": "abandoned",
                "queue_wait_seconds": 20,
                "queue_position": 2,
            },
            {
                "external_id": "menus-3",
                "direction": "outgoing",
                "status": "answered",
                "from_number": "+31207940100",
                "to_number": "+31612345678",
                "start": (start + timedelta(minutes=2)).isoformat() + "+00:00",
                "ring_seconds": 3,
                "talk_seconds": 125,
            },
        ]
    )
    assert [r["result"] for r in results] == ["created"] * 3, results


class MenuWalker:
    """Open every Phone menu of one user the way the web client does; collect the errors."""

    def __init__(self, env):
        self.env = env
        self.errors = []  # "menu / view: traceback"
        self.visited = {}  # menu xmlid -> list of view types loaded
        self.calls = 0  # server calls made, all menus together

    # --- evaluation -------------------------------------------------------------------------

    def _eval_context(self, context):
        today = fields.Date.context_today(self.env.user)
        return {
            "uid": self.env.uid,
            "user": self.env.user,
            "context": context,
            "allowed_company_ids": self.env.companies.ids,
            "current_company_id": self.env.company.id,
            "active_id": False,
            "active_ids": [],
            "active_model": False,
            "context_today": lambda: today,
            "datetime": safe_datetime,
            "time": safe_time,
            "relativedelta": safe_dateutil.relativedelta.relativedelta,
        }

    def _eval(self, value, context, default):
        if not value:
            return default
        if not isinstance(value, str):
            return value
        return safe_eval(value, self._eval_context(context))

    # --- menus ------------------------------------------------------------------------------

    def visible_menus(self):
        """The menus under Phone that the navbar shows this user, depth first."""
        menus = self.env["ir.ui.menu"].load_menus(debug=False)
        root_id = self.env.ref(ROOT).id
        if root_id not in menus:
            return []
        found = []

        def walk(menu_id):
            menu = menus[menu_id]
            found.append(menu)
            for child_id in menu["children"]:
                walk(child_id)

        walk(root_id)
        return found

    def walk(self):
        for menu in self.visible_menus():
            if menu["action_model"] == "ir.actions.act_window":
                self.open_menu(menu)
            elif menu["action_model"] == "ir.actions.client":
                self.open_client_menu(menu)
            elif menu["action_model"]:
                self.errors.append(f"{menu['xmlid']}: unexpected action {menu['action_model']}")
        return self

    def _guard(self, label, function, *args, **kwargs):
        """Run one web client call in a savepoint: ``(True, result)``, or ``(False, None)``
        once its exception is recorded as an error named by ``label``."""
        self.calls += 1
        try:
            with self.env.cr.savepoint():
                return True, function(*args, **kwargs)
        except Exception:  # noqa: BLE001 -- every crash of a screen is what this test reports
            self.errors.append(f"{label}:\n{traceback.format_exc()}")
            return False, None

    def open_client_menu(self, menu):
        """A client action: loaded, then the server call its component makes."""
        name = f"menu {menu['xmlid']} ({menu['name']})"
        action = self.env["ir.actions.client"].sudo().browse(menu["action_id"])
        call = CLIENT_ACTION_CALLS.get(action.tag)
        if call is None:
            self.errors.append(f"{name}: unknown client action {action.tag}")
            return
        model, method = call
        ok, _result = self._guard(f"{name}, {model}.{method}", getattr(self.env[model], method))
        if ok:
            self.visited[menu["xmlid"]] = ["client"]

    def open_menu(self, menu):
        name = f"menu {menu['xmlid']} ({menu['name']})"
        ok, action = self._guard(f"{name}, /web/action/load", self._load_action, menu["action_id"])
        if not ok:
            return
        user_context = dict(self.env.context)
        ok, action_context = self._guard(
            f"{name}, action context", self._eval, action.get("context"), user_context, {}
        )
        if not ok:
            return
        context = {**user_context, **action_context}
        ok, domain = self._guard(
            f"{name}, action domain", self._eval, action.get("domain"), context, []
        )
        if not ok:
            return
        env = self.env(context=context)
        model = env[action["res_model"]]
        views = [list(view) for view in action["views"]]
        search_view_id = action.get("search_view_id")
        views.append([search_view_id and search_view_id[0], "search"])
        ok, result = self._guard(
            f"{name}, get_views {[v[1] for v in views]}",
            model.get_views,
            views,
            {"action_id": action["id"], "load_filters": True, "toolbar": True},
        )
        if not ok:
            return
        loaded = self.visited.setdefault(menu["xmlid"], [])
        ok, defaults = self._guard(
            f"{name}, search view defaults",
            self._search_defaults,
            result["views"]["search"]["arch"],
            context,
        )
        search_domain, groupby = defaults if ok else (Domain.TRUE, [])
        full_domain = Domain.AND([Domain(domain), search_domain])
        # search_default_* keys only serve the search view
        search_context = {k: v for k, v in context.items() if not k.startswith("search_default_")}
        # The web client sends the action's context as the whole context, as here.
        model = model.with_context(search_context)  # pylint: disable=context-overridden
        for view_type, _view_id in ((v[1], v[0]) for v in action["views"]):
            view = result["views"][view_type]
            label = f"{name}, {view_type} view"
            loader = getattr(self, f"_load_{view_type}", None)
            if loader is None:
                self.errors.append(f"{label}: no loader for view type {view_type}")
                continue
            ok, _result = self._guard(
                label, loader, model, view, result["models"], full_domain, groupby, action, context
            )
            if ok:
                loaded.append(view_type)

    def _load_action(self, action_id):
        """What ``/web/action/load`` answers: the action read as superuser, then cleaned."""
        action = self.env["ir.actions.act_window"].sudo().browse(action_id)._get_action_dict()
        return clean_action(action, env=self.env)

    def _search_defaults(self, arch, context):
        """The domain and group-bys of the search view's ``search_default_*`` filters.

        Filters between two separators form a group, OR-ed; the groups are AND-ed, as the
        search bar composes them. Date-range filters (``date=...``) are left out.
        """
        root = etree.fromstring(arch)
        groups, current, groupby = [], [], []
        eval_context = self._eval_context(context)
        for node in root.iter("filter", "separator", "field", "group"):
            if node.tag in ("separator", "group"):
                if current:
                    groups.append(current)
                current = []
                continue
            name = node.get("name")
            value = context.get(f"search_default_{name}")
            if not name or not value:
                continue
            if node.tag == "field":
                field_domain = node.get("filter_domain")
                if field_domain:
                    current.append(Domain(safe_eval(field_domain, {**eval_context, "self": value})))
                else:
                    current.append(Domain(name, "=", value))
                continue
            node_context = safe_eval(node.get("context") or "{}", eval_context)
            if node_context.get("group_by"):
                by = node_context["group_by"]
                groupby.extend([by] if isinstance(by, str) else by)
            elif node.get("domain"):
                current.append(Domain(safe_eval(node.get("domain"), eval_context)))
        if current:
            groups.append(current)
        return Domain.AND([Domain.OR(group) for group in groups]), groupby

    # --- field specifications ----------------------------------------------------------------

    def _spec(self, node, models, model_name):
        """The fields specification the web client builds from an arch (sub-views included)."""
        fields_info = models.get(model_name, {}).get("fields", {})
        spec = {}
        for child in node:
            if not isinstance(child.tag, str):
                continue
            if child.tag != "field":
                for name, sub in self._spec(child, models, model_name).items():
                    spec.setdefault(name, {}).update(sub)
                continue
            name = child.get("name")
            info = fields_info.get(name)
            if info is None:
                continue
            if info["type"] == "many2one":
                spec[name] = {"fields": {"display_name": {}}}
            elif info["type"] in ("one2many", "many2many"):
                subview = next((c for c in child if c.tag in ("list", "kanban")), None)
                if subview is not None:
                    sub_spec = self._spec(subview, models, info["relation"])
                    spec[name] = {"fields": sub_spec or {"display_name": {}}, "limit": 40}
                else:
                    spec[name] = {"fields": {"display_name": {}}}
            else:
                spec.setdefault(name, {})
        return spec

    @staticmethod
    def _aggregate(measure, fields_info):
        if measure == "__count":
            return "__count"
        info = fields_info[measure]
        aggregator = "count_distinct" if info["type"] == "many2one" else info.get("aggregator")
        if not aggregator:
            raise AssertionError(f"measure {measure!r} has no aggregator: the view would crash")
        return f"{measure}:{aggregator}"

    # --- views ------------------------------------------------------------------------------

    def _load_list(self, model, view, models, domain, groupby, action, context):
        arch = etree.fromstring(view["arch"])
        spec = self._spec(arch, models, model._name)
        assert spec, f"{model._name} {arch.tag} view without a field"
        limit = int(
            arch.get("limit") or action.get("limit") or (40 if arch.tag == "kanban" else 80)
        )
        groupby = groupby or (
            [arch.get("default_group_by")] if arch.get("default_group_by") else []
        )
        if groupby:
            model.web_read_group(
                domain,
                groupby,
                ["__count"],
                limit=limit,
                auto_unfold=True,
                unfold_read_specification=spec,
            )
        else:
            model.web_search_read(
                domain,
                spec,
                limit=limit,
                order=arch.get("default_order") or None,
                count_limit=10001,
            )

    _load_kanban = _load_list

    def _load_form(self, model, view, models, domain, groupby, action, context):
        arch = etree.fromstring(view["arch"])
        spec = self._spec(arch, models, model._name)
        assert spec, f"{model._name} form view without a field"
        # The record shown when a row is clicked (the first of the list)...
        if action.get("view_mode", "").split(",")[0] != "form":
            record = model.search(domain, limit=1)
            if record:
                record.with_context(bin_size=True).web_read(spec)
        # ... and the new record of the New button, or of a form-only action such as Settings.
        if model.has_access("create") and arch.get("create") not in ("0", "false", "False"):
            model.default_get(list(spec))
            model.onchange({}, [], spec)

    def _load_graph(self, model, view, models, domain, groupby, action, context):
        """As graph_arch_parser.js and graph_model.js: the last measure, the groupable fields."""
        arch = etree.fromstring(view["arch"])
        fields_info = models[model._name]["fields"]
        measure, arch_groupby = "__count", []
        for node in arch.iter("field"):
            name = node.get("name")
            if node.get("invisible") in ("1", "True"):
                continue
            if node.get("type") == "measure":
                measure = name
            elif fields_info[name]["type"] in GROUPABLE_TYPES:
                interval = node.get("interval")
                arch_groupby.append(f"{name}:{interval}" if interval else name)
        measure = context.get("graph_measure") or measure
        groupbys = groupby or context.get("graph_groupbys") or arch_groupby
        aggregates = ["__count"]
        if measure != "__count":
            aggregates.append(self._aggregate(measure, fields_info))
        model.with_context(fill_temporal=True).formatted_read_group(domain, groupbys, aggregates)

    def _load_pivot(self, model, view, models, domain, groupby, action, context):
        """As pivot_arch_parser.js and pivot_model.js: rows and columns all expanded."""
        arch = etree.fromstring(view["arch"])
        fields_info = models[model._name]["fields"]
        rows, cols, measures = [], [], []
        for node in arch.iter("field"):
            name, kind, interval = node.get("name"), node.get("type"), node.get("interval")
            if node.get("invisible") in ("1", "True"):
                continue
            spec = f"{name}:{interval}" if interval else name
            if kind == "measure" or node.get("operator"):
                measures.append(spec)
            elif kind == "col":
                cols.append(spec)
            elif kind == "row":
                rows.append(spec)
        if not measures or arch.get("display_quantity") in ("1", "true", "True"):
            measures.insert(0, "__count")
        measures = context.get("pivot_measures") or measures
        rows = context.get("pivot_row_groupby") or groupby or rows
        cols = context.get("pivot_column_groupby") or cols
        aggregates = [self._aggregate(m, fields_info) for m in measures]
        # The first load expands every row and column group-by: every prefix pair.
        grouping_sets = [
            rows[:r] + cols[:c] for r in range(len(rows) + 1) for c in range(len(cols) + 1)
        ]
        model.formatted_read_grouping_sets(domain, grouping_sets, aggregates)

    def _load_calendar(self, model, view, models, domain, groupby, action, context):
        """As calendar_model.js: the records of this week, the fields of the arch."""
        arch = etree.fromstring(view["arch"])
        fields_info = models[model._name]["fields"]
        names = {"display_name"} | {node.get("name") for node in arch.iter("field")}
        for attribute in ("date_start", "date_stop", "date_delay", "color", "all_day"):
            if arch.get(attribute):
                names.add(arch.get(attribute))
        start_field, stop_field = arch.get("date_start"), arch.get("date_stop")
        today = fields.Datetime.now()
        week_start = today - timedelta(days=today.weekday() + 1)
        week_end = week_start + timedelta(days=8)
        to_value = fields.Date.to_string if fields_info[start_field]["type"] == "date" else str
        range_domain = [(start_field, "<=", to_value(week_end))]
        if stop_field:
            range_domain.append((stop_field, ">=", to_value(week_start)))
        elif not arch.get("date_delay"):
            range_domain.append((start_field, ">=", to_value(week_start)))
        model.search_read(Domain.AND([domain, Domain(range_domain)]), sorted(names))
        for node in arch.iter("field"):
            if node.get("filters"):
                model.formatted_read_group(domain, [node.get("name")], ["__count"])


class MenuWalkCase:
    """What both test classes assert of a user's walk."""

    def walk_menus(self, user):
        # the context the web client sends: the user's (lang, tz, uid) and their companies
        env = self.env(user=user)
        context = {**env.user.context_get(), "allowed_company_ids": user.company_ids.ids}
        walker = MenuWalker(env(context=context)).walk()
        if walker.errors:
            self.fail(
                f"{len(walker.errors)} Phone screen(s) crash for {user.login}:\n\n"
                + "\n\n".join(walker.errors)
            )
        return walker

    def assert_menus(self, walker, expected, hidden=()):
        visited = set(walker.visited)
        missing = expected - visited
        self.assertFalse(
            missing, f"menus not visited: {sorted(missing)}; visited {sorted(visited)}"
        )
        self.assertGreaterEqual(len(visited), len(expected))
        self.assertFalse(visited & set(hidden), "menus this user must not see")
        for xmlid, view_types in walker.visited.items():
            self.assertTrue(view_types, f"{xmlid}: no view loaded")


class TestPhoneMenus(MenuWalkCase, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = _make_menu_users(cls.env)
        _make_menu_data(cls.env)

    def test_manager_opens_every_phone_screen(self):
        walker = self.walk_menus(self.users["manager"])
        self.assert_menus(walker, SYSTEM_MENUS)
        self.assertGreaterEqual(len(walker.visited), 10)
        # the PBX screen: its list and its form, whose time zones broke it once
        self.assertEqual(walker.visited["phone_call_accounting.phone_pbx_menu"], ["list", "form"])
        self.assertEqual(walker.visited["phone_call_accounting.phone_settings_menu"], ["form"])
        self.assertEqual(
            sorted(walker.visited["phone_call_accounting.phone_call_menu"]),
            ["calendar", "form", "graph", "list", "pivot"],
        )

    def test_manager_without_settings_rights(self):
        walker = self.walk_menus(self.users["manager_no_system"])
        self.assert_menus(
            walker,
            MANAGER_MENUS,
            hidden=SYSTEM_MENUS - MANAGER_MENUS,
        )

    def test_user_opens_calls_and_reporting_only(self):
        user = self.users["user"]
        walker = self.walk_menus(user)
        self.assert_menus(walker, USER_MENUS, hidden=SYSTEM_MENUS - USER_MENUS)
        seen = {menu["xmlid"] for menu in walker.visible_menus()}
        self.assertNotIn(CONFIG, seen)
        self.assertIn(ROOT, seen)

    def test_search_defaults_filter_the_first_page(self):
        """The walker reads the search bar defaults: today's calls, pending call-backs."""
        walker = MenuWalker(self.env(user=self.users["user"]))
        Call = walker.env["phone.call"]
        arch = Call.get_views([(False, "search")])["views"]["search"]["arch"]
        today, _groupby = walker._search_defaults(arch, {"search_default_today": 1})
        self.assertEqual(Call.search_count(today), 3)
        pending, _groupby = walker._search_defaults(arch, {"search_default_to_call_back": 1})
        self.assertEqual(Call.search(pending).mapped("status"), ["missed"])
        both, _groupby = walker._search_defaults(
            arch,
            {"search_default_incoming": 1, "search_default_outgoing": 1, "search_default_today": 1},
        )
        self.assertEqual(Call.search_count(both), 3)  # incoming OR outgoing, AND today
        grouped, groupby = walker._search_defaults(arch, {"search_default_group_status": 1})
        self.assertEqual(groupby, ["status"])
        self.assertEqual(grouped, Domain.TRUE)


@tagged("post_install", "-at_install")
class TestPhoneMenusTour(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = _make_menu_users(cls.env)
        _make_menu_data(cls.env)

    def test_manager_clicks_every_phone_menu(self):
        self.start_tour("/odoo", "phone_menus_tour", login=self.users["manager"].login, timeout=300)

    def test_manager_without_settings_clicks_every_phone_menu(self):
        self.start_tour(
            "/odoo", "phone_menus_tour", login=self.users["manager_no_system"].login, timeout=300
        )

    def test_user_clicks_every_phone_menu(self):
        self.start_tour("/odoo", "phone_menus_tour", login=self.users["user"].login, timeout=300)
