"""The RevOps console: scores, data quality, pipeline and the decision queue with its explain rail, in a browser.

It reads a *publication* (`console.publish`): a separate DuckDB file each successful refresh writes under a
temporary name and swaps in atomically, so the console never opens the live warehouse. Decisions go to the
operational store through `actions.queue.DecisionQueue`, with the signed-in person's name.

    app = create_app(ConsoleSettings.from_environment())   # console.app
"""
