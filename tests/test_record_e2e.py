"""The handling record in the console, end to end (issue 14): headless Chromium walks a sales case
and an after-sales case through the whole record (the handler's resolve form with its required
fields, the manager's review, customer care's callback with satisfaction) to the printed form,
the dashboard's breakdowns and the printable monthly case review."""

from __future__ import annotations

from datetime import timedelta

from .test_console_e2e import START, browser, case, console, sign_in  # noqa: F401 - fixtures

PHONE = "13912345678"


def correct_and_assign(page, url: str, case_id: int, labels: dict[str, str]) -> None:
    """Customer care corrects the suggestion's labels (no flags) in the queue and gives the case to handler1."""
    page.goto(f"{url}/queue")
    card = page.locator(f"#case-{case_id}")
    card.locator("details.correct").evaluate("d => { d.open = true; }")  # open already if a head is offered as choices
    for head, value in labels.items():
        card.locator(f"select[name={head}]").select_option(value)
    card.locator("input[name=flags]:checked").evaluate_all("els => els.forEach(e => { e.checked = false; })")
    card.locator(".correct-form button[type=submit]").click()
    page.wait_for_url(f"{url}/queue?done=corrected")
    page.goto(f"{url}/cases/{case_id}")
    page.locator("select[name=assignee]").select_option("handler1")
    page.locator("form[action$=assign] button").click()
    page.wait_for_url(f"{url}/cases/{case_id}?done=assigned")


def submit(page, url: str, case_id: int, form: str) -> None:
    page.locator(f"#{form} button[type=submit]").click()
    page.wait_for_url(f"{url}/cases/{case_id}?done=acted")


def fill_resolve(page, fields: dict[str, str]) -> None:
    form = page.locator("#resolve-form")
    for name, value in fields.items():
        if name in ("cause", "responsibility_class", "responsible_department"):
            form.locator(f"select[name={name}]").select_option(value)
        elif name == "valid":
            form.locator(f"input[name=valid][value={value}]").check()
        else:
            form.locator(f"[name={name}]").fill(value)


def review(page, url: str, case_id: int, approved: bool, opinion: str, measure: str = "") -> None:
    page.goto(f"{url}/cases/{case_id}")
    form = page.locator("#review-form")
    form.locator(f"input[name=approved][value={'yes' if approved else 'no'}]").check()
    form.locator("textarea[name=review_opinion]").fill(opinion)
    if measure:
        form.locator("textarea[name=long_term_measure]").fill(measure)
    submit(page, url, case_id, "review-form")


def call_back(page, url: str, case_id: int, satisfaction: str, words: str) -> None:
    page.goto(f"{url}/cases/{case_id}")
    form = page.locator("#callback-form")
    form.locator(f"input[name=satisfaction][value={satisfaction}]").check()
    form.locator("textarea[name=customer_words]").fill(words)
    submit(page, url, case_id, "callback-form")


def test_a_sales_and_an_after_sales_case_through_the_whole_record(console):  # noqa: F811 - the fixture
    url, clock, ids, engine, new_page, _ = console
    care, handler, manager = new_page("care"), new_page("handler1"), new_page("manager")
    care.wait_for_url(f"{url}/queue")
    sales, after = ids["routine"], ids["quality"]
    correct_and_assign(care, url, sales, {"business_line": "sales", "category": "service", "severity": "major"})
    correct_and_assign(care, url, after, {"business_line": "after_sales", "category": "product_quality",
                                          "severity": "major"})
    clock.now = START + timedelta(hours=1)

    # ---- the sales case: the handler's form marks what is required, and refuses what is missing
    handler.goto(f"{url}/cases/{sales}")
    handler.locator("button[data-action=contact]").click()
    handler.wait_for_url(f"{url}/cases/{sales}?done=acted")
    form = handler.locator("#resolve-form")
    for name in ("investigation", "reply", "handling_opinion"):
        assert form.locator(f"textarea[name={name}]").get_attribute("required") is not None
    assert "有效投诉时必填" in form.locator("[data-field=cause]").inner_text()
    person = form.locator("[data-field=responsible_person]").inner_text()
    assert "有效投诉时" in person and "交车检验未发现的问题时" in person  # a sales case names the person
    assert handler.locator("button[data-action=resolve]").count() == 1  # the form's, not a bare button
    fill_resolve(handler, {"investigation": "调取展厅监控，顾客所述属实", "reply": "零售经理当面致歉",
                           "handling_opinion": "赠送一次保养", "valid": "yes"})
    with handler.expect_response(lambda r: r.request.method == "POST") as response:
        form.locator("button[type=submit]").click()
    assert response.value.status == 422
    refusal = handler.locator("[role=alert]").inner_text()
    for label in ("抱怨原因", "责任分类", "责任部门", "责任人", "纠正及改进措施"):
        assert label in refusal
    handler.go_back()
    handler.goto(f"{url}/cases/{sales}")
    fill_resolve(handler, {"investigation": "调取展厅监控，顾客所述属实", "reply": "零售经理当面致歉",
                           "handling_opinion": "赠送一次保养", "valid": "yes", "cause": "attitude",
                           "responsibility_class": "attitude", "responsible_department": "sales",
                           "responsible_person": "销售顾问小李", "corrective_action": "全员服务礼仪培训"})
    submit(handler, url, sales, "resolve-form")
    assert handler.locator("#record-values tr[data-field=cause]").inner_text().startswith("抱怨原因")
    assert "向用户表示歉意" in handler.locator("#record-values").inner_text()  # the cause's prescribed handling

    # Customer care waits for the manager's review before the callback.
    care.goto(f"{url}/cases/{sales}")
    assert care.locator("#callback-form").count() == 0 and care.locator("#awaiting-review").count() == 1
    review(manager, url, sales, True, "同意，限期完成培训")
    call_back(care, url, sales, "satisfied", f"满意，有事打{PHONE}")
    assert case(engine, sales).state == "verified"
    care.locator("button[data-action=close]").click()
    care.wait_for_url(f"{url}/cases/{sales}?done=acted")

    # ---- the after-sales case: misuse needs evidence; the service manager sends the opinion back once
    handler.goto(f"{url}/cases/{after}")
    handler.locator("button[data-action=contact]").click()
    handler.wait_for_url(f"{url}/cases/{after}?done=acted")
    person = handler.locator("#resolve-form [data-field=responsible_person]").inner_text()
    assert "有效投诉时" not in person and "交车检验未发现的问题时" in person  # after-sales: only for a delivery defect
    fill_resolve(handler, {"investigation": "检测压缩机正常，系空调滤芯堵塞", "reply": "已向客户说明保养要求",
                           "handling_opinion": "免费更换滤芯", "valid": "yes", "cause": "misuse",
                           "responsibility_class": "skill", "responsible_department": "after_sales",
                           "corrective_action": "交车时讲解空调滤芯保养"})
    with handler.expect_response(lambda r: r.request.method == "POST") as response:
        handler.locator("#resolve-form button[type=submit]").click()
    assert response.value.status == 422 and "证据" in handler.locator("[role=alert]").inner_text()
    handler.goto(f"{url}/cases/{after}")
    fill_resolve(handler, {"investigation": "检测压缩机正常，系空调滤芯堵塞", "reply": "已向客户说明保养要求",
                           "handling_opinion": "免费更换滤芯", "valid": "yes", "cause": "misuse",
                           "responsibility_class": "skill", "responsible_department": "after_sales",
                           "corrective_action": "交车时讲解空调滤芯保养", "evidence": "检测报告",
                           "responsible_person": "服务顾问老王"})  # not required of an after-sales case: given
    submit(handler, url, after, "resolve-form")
    manager.goto(f"{url}/cases/{after}")
    assert "服务经理审核" in manager.locator("#review-form h3").inner_text()
    review(manager, url, after, False, "证据不足，补充照片")
    assert case(engine, after).state == "reopened"
    handler.goto(f"{url}/cases/{after}")
    handler.locator("#resolve-form textarea[name=evidence]").fill("检测报告及滤芯照片")  # the rest stays filled in
    submit(handler, url, after, "resolve-form")
    review(manager, url, after, True, "同意")
    call_back(care, url, after, "fairly_satisfied", f"基本满意，车牌粤B12345，电话{PHONE}")
    care.locator("button[data-action=close]").click()
    care.wait_for_url(f"{url}/cases/{after}?done=acted")
    timeline = care.locator("#timeline").inner_text()
    assert "经理退回处理意见" in timeline and "经理审核通过" in timeline and "回访满意度" in timeline

    # ---- the printed forms, filled from the record
    printed = {sales: ("《公司用户抱怨处理表》", ["工作人员服务态度问题", "态度类", "销售顾问小李", "全员服务礼仪培训",
                                               "同意，限期完成培训", "满意"]),
               after: ("《顾客抱怨(投诉)处理单》", ["用户使用不当或误操作", "检测报告及滤芯照片", "技能类", "保险",
                                                  "基本满意"])}
    for case_id, (title, expect) in printed.items():
        care.goto(f"{url}/cases/{case_id}/form")
        assert care.locator("#paper-form h1").inner_text() == title
        text = care.locator("#paper-form").inner_text()
        for words in expect:
            assert words in text, (title, words)
        empty = care.locator("#paper-form .form-grid td").evaluate_all(
            "tds => tds.filter(td => !td.textContent.trim()).map(td => td.previousElementSibling.textContent)")
        assert empty == [], (title, empty)

    # ---- the dashboard and the monthly case review
    manager.goto(f"{url}/dashboard?period=2026-11")
    assert manager.locator("#kpi-valid").inner_text() == "2" and manager.locator("#kpi-invalid").inner_text() == "0"
    assert "工作人员服务态度问题" in manager.locator("#by-cause").inner_text()
    assert "用户使用不当或误操作" in manager.locator("#by-cause").inner_text()
    assert "满意" in manager.locator("#satisfaction").inner_text()
    assert manager.locator("#measures tr").count() == 3  # a heading and the two measures
    manager.click("#case-review")
    manager.wait_for_url(f"{url}/dashboard/review?period=2026-11")
    listed = [r.get_attribute("data-case") for r in manager.locator("#review-major tr[data-case]").all()]
    numbers = [case(engine, sales).number, case(engine, after).number]
    assert [n for n in listed if n in numbers] == numbers  # with the seed's other major ones, in order of receipt
    first, second = (manager.locator(f"#review-major tr[data-case='{n}']").inner_text() for n in numbers)
    assert "工作人员服务态度问题" in first and "态度类" in first and "全员服务礼仪培训" in first and "满意" in first
    assert "用户使用不当或误操作" in second and "基本满意" in second
    page = manager.content()
    assert PHONE not in page and "粤B12345" not in page and "王小明" not in page  # personal data masked
    assert manager.locator("#print").count() == 1
