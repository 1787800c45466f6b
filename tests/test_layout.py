"""The layout rules of the apps: no import cycle (a module that needs another's work calls it and is not
called back), and platform branches only where the platform is the subject."""

import grimp

APPS = ("accounts", "clusters", "simulations", "yaptide_compat", "yaptide_site")


def test_no_import_cycle_between_modules_of_the_apps():
    graph = grimp.build_graph(*APPS, include_external_packages=False)
    modules = sorted(m for m in graph.modules if not m.endswith(".migrations") and ".migrations." not in m)

    cycles = []
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported in modules and graph.chain_exists(importer=imported, imported=module):
                cycles.append(f"{module} <-> {imported}: {' -> '.join(graph.find_shortest_chain(imported, module))}")

    assert cycles == []


def test_platform_branches_live_in_the_execution_backends_presenters_and_models_only():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    allowed = ("simulations/execution/", "simulations/presenters.py", "simulations/models.py")
    branch = re.compile(r"\b(platform|PLATFORM)\s*(==|!=)")
    found = [
        f"{path.relative_to(root)}:{number}"
        for app in APPS
        for path in sorted((root / app).rglob("*.py"))
        if not str(path.relative_to(root)).startswith(allowed)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if branch.search(line)
    ]

    assert found == []
