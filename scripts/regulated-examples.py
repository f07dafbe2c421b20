#!/usr/bin/env python3
"""Generates the training examples of the regulated-topic classifier (`regulated` in
scripts/train-signals.py, crates/tandem-text/models/regulated.txt).

    python3 scripts/regulated-examples.py            # JSONL on stdout
    python3 scripts/regulated-examples.py --out FILE # JSONL written to FILE (e.g. under target/)
    python3 scripts/regulated-examples.py --stats    # counts per label, language and template

Every example is a customer message built from a template and slot fillers written here, for
Tandem (same licence as the repository), in Chinese and English, labelled `medical`, `legal`,
`financial` or `none`:

  - medical: a symptom or reaction after using, eating, wearing or applying a product; whether a
    product suits a health condition, pregnancy, breastfeeding or a child; how much to take; a
    product taken with a medicine;
  - legal: whether a clause, term, contract, warranty exclusion or policy is lawful, valid,
    binding or enforceable; what rights the law gives; whether one may sue or void a contract;
  - financial: which investment, savings or wealth product to choose, whether to move savings
    or money into one, whether to borrow or invest, how to allocate money, tax advice;
  - none: ordinary support questions (orders, shipping, returns, refunds, accounts, payments,
    invoices, coupons) and hard negatives that share words with the topics: a loan's or a fund
    redemption's status, the interest rate, device and product safety certifications, warranty
    length, downloading or signing a contract, a coupon's validity, a product that broke "after
    using it", a problem that "gives me a headache".

The examples were written from the description of the situations alone, never from the
evaluation sets (eval/signals/regulated*.jsonl), which they are kept apart from.

Deterministic: the same seed always gives the same lines, sorted. Each line is
`{"text": ..., "label": ..., "lang": "zh"|"en", "template": ...}`; `template` names the template
that wrote it, so that a cross-validation can hold whole templates out.
"""
import itertools
import json
import random
import sys

SEED = 20261206
# At most this many examples from one template (its fillers' product, sampled).
PER_TEMPLATE = 90


def fill(template, **slots):
    """Every combination of the slot fillers in a template, as (text, slot values)."""
    names = sorted(slots)
    for values in itertools.product(*(slots[name] for name in names)):
        yield template.format(**dict(zip(names, values)))


# ---------------------------------------------------------------------------------------------
# Chinese fillers.

ZH_SKIN_PRODUCTS = ["面霜", "精华液", "防晒霜", "身体乳", "爽肤水", "卸妆油", "洗面奶", "眼霜",
                    "护手霜", "面膜", "唇膏", "粉底液", "染发剂", "洗发水", "沐浴露", "香水",
                    "驱蚊液", "精油", "祛痘膏", "美白乳液"]
ZH_SKIN_VERBS = ["用了", "涂了", "抹了", "擦了", "用完", "涂完"]
ZH_FOOD_PRODUCTS = ["保健品", "维生素片", "鱼油", "蛋白粉", "益生菌", "减肥茶", "代餐粉",
                    "酵素", "胶原蛋白饮", "褪黑素", "钙片", "能量饮料", "辣条", "坚果礼盒",
                    "燕窝", "阿胶糕", "奶粉", "果冻", "咖啡豆", "凉茶"]
ZH_FOOD_VERBS = ["吃了", "喝了", "服用了", "冲了", "吃完", "喝完"]
ZH_WEAR_PRODUCTS = ["耳环", "项链", "手表表带", "隐形眼镜", "美瞳", "内衣", "袜子", "假睫毛",
                    "口罩", "手环", "戒指", "睡衣"]
ZH_WEAR_VERBS = ["戴了", "穿了", "用了", "戴上"]
ZH_TIMES = ["", "之后", "以后", "后", "两天后", "第二天", "没多久", "一晚上", "一周后",
            "半小时后", "当天晚上", "几次之后"]
ZH_BODY = ["脸上", "皮肤", "手上", "脖子上", "胳膊上", "身上", "头皮", "眼睛周围", "嘴唇",
           "耳朵", "背上", "腿上", "额头"]
ZH_SKIN_SYMPTOMS = ["起红疹", "起了一片疹子", "发痒", "特别痒", "红肿", "刺痛", "火辣辣地疼",
                    "起小疙瘩", "脱皮", "起水泡", "长了好多痘", "发红发烫", "过敏了", "起风团",
                    "干裂出血", "肿起来了"]
ZH_BODY_SYMPTOMS = ["头疼", "头晕", "恶心", "想吐", "拉肚子", "肚子疼", "胃疼", "心慌", "心跳很快",
                    "失眠", "浑身没力气", "呼吸不畅", "喉咙肿痛", "发烧", "便秘", "腹胀",
                    "手脚发麻", "吐了好几次"]
ZH_WEAR_SYMPTOMS = ["红肿", "发炎", "流脓", "痒得厉害", "起疹子", "刺痛", "磨破了还化脓",
                    "眼睛充血", "眼睛又红又痛", "一直流眼泪"]
ZH_PEOPLE = ["孕妇", "怀孕的人", "哺乳期妈妈", "三岁小孩", "婴儿", "老人", "高血压患者",
             "糖尿病人", "心脏不好的人", "肾不好的人", "哮喘病人", "胃不好的人", "备孕的人",
             "正在吃降压药的人", "刚做完手术的人", "痛风的人"]
ZH_CONSUME = ["吃", "喝", "用", "服用"]
ZH_DRUGS = ["降压药", "阿司匹林", "抗生素", "感冒药", "布洛芬", "避孕药", "胰岛素", "安眠药",
            "头孢", "中药"]
ZH_ORGANS = ["肝", "肾", "心脏", "胃", "身体", "皮肤", "孩子的发育", "血糖", "血压", "睡眠"]

ZH_CLAUSES = ["这个条款", "不退不换的规定", "最终解释权归商家这条", "这份合同", "你们的用户协议",
              "保修条款里的免责部分", "违约金条款", "自动续费条款", "这个免责声明", "押金不退的规定",
              "定金不退的条款", "会员协议", "你们的霸王条款", "格式条款", "租赁合同里的这条",
              "竞业协议", "退订要收手续费的规定", "我签的分期合同", "拆封不退的规定",
              "你们单方面改价格的规定"]
ZH_LEGALITY = ["合法吗", "有法律效力吗", "在法律上有效吗", "是不是违法的", "受法律保护吗",
               "算不算无效条款", "能强制执行吗", "违反消费者权益保护法吗", "对我有约束力吗",
               "站得住脚吗", "符合法律规定吗", "是不是侵犯了我的权益", "法律认可吗",
               "是不是霸王条款"]
ZH_RIGHTS = ["要求退一赔三", "解除合同", "拒绝支付违约金", "要求三倍赔偿", "单方面退租",
             "不履行这份协议", "要回全部定金", "要求精神损失赔偿", "七天无理由退货",
             "追究你们的法律责任"]
ZH_LEGAL_SITUATIONS = ["商家不给退款", "你们擅自改了合同", "商品是假货", "快递丢了你们不赔",
                       "你们单方面取消订单", "收到的东西和描述不符", "你们泄露了我的信息",
                       "装修公司延期三个月", "房东不退押金", "你们乱扣费"]

ZH_INVESTMENTS = ["理财产品", "基金", "定期理财", "货币基金", "指数基金", "债券基金", "黄金",
                  "股票", "国债", "年金险", "分红险", "养老理财", "私募产品", "结构性存款",
                  "余额宝", "大额存单", "混合基金", "数字货币", "外汇", "信托产品"]
ZH_MONEY = ["存款", "积蓄", "年终奖", "十万块", "五十万", "闲钱", "养老钱", "孩子的教育金",
            "退休金", "工资", "卖房的钱", "公积金"]
ZH_CHOICE = ["我该买哪个", "哪个更适合我", "选哪个比较好", "买哪只比较稳", "该怎么选",
             "哪个收益更高风险更低", "推荐我买哪个"]
ZH_DECISIONS = ["值得买吗", "现在适合入手吗", "能买吗，会不会亏", "值不值得投", "现在是好时机吗",
                "划算吗", "靠谱吗，我要不要买", "适合长期持有吗", "应该加仓还是卖掉"]
ZH_BORROW = ["买车", "装修", "炒股", "买这台电脑", "付首付", "还信用卡", "做生意", "买理财",
             "出国旅游", "交学费"]

ZH_ORDERS = ["订单", "包裹", "快递", "货", "退款", "发票", "退货", "换货", "赠品", "优惠券"]
ZH_PRODUCTS = ["手机", "耳机", "充电器", "电饭煲", "空气炸锅", "扫地机器人", "衣服", "鞋子",
               "面霜", "保健品", "沙发", "床垫", "笔记本电脑", "手表", "吸尘器", "台灯", "蛋白粉",
               "洗发水", "热水壶", "婴儿车"]
ZH_DEVICES = ["手机", "平板", "笔记本电脑", "耳机", "智能手表", "相机", "游戏机", "电动牙刷"]
ZH_ACCESSORIES = ["充电器", "数据线", "充电宝", "无线充电板", "快充头", "转换插头", "保护壳"]
ZH_CERTS = ["3C认证", "CE认证", "质检报告", "防水认证", "安全认证", "FCC认证", "能效标识"]
ZH_FAULTS = ["屏幕碎了", "开不了机", "发烫", "充不进电", "有异响", "漏水", "掉漆", "卡顿",
             "自动关机", "按键失灵", "缩水了", "褪色了", "起球了", "裂开了", "不出水了"]
ZH_ANNOYANCES = ["物流这么慢真让人头疼", "这个问题让我头疼", "客服一直不回，让人很头疼",
                 "退款流程太复杂了，真让人头疼", "这个包装恶心死了", "这个颜色好恶心",
                 "改地址这件事让我很头疼", "每次登录都要验证码，太让人头疼了"]


def zh_medical():
    yield "zh-med-skin", fill("{verb}这个{product}{time}{body}{symptom}", verb=ZH_SKIN_VERBS,
                              product=ZH_SKIN_PRODUCTS, time=ZH_TIMES, body=ZH_BODY,
                              symptom=ZH_SKIN_SYMPTOMS)
    yield "zh-med-skin2", fill("你们的{product}我{verb}{time}，{body}{symptom}，怎么办",
                               product=ZH_SKIN_PRODUCTS, verb=ZH_SKIN_VERBS, time=ZH_TIMES,
                               body=ZH_BODY, symptom=ZH_SKIN_SYMPTOMS)
    yield "zh-med-food", fill("{verb}你们的{product}{time}一直{symptom}", verb=ZH_FOOD_VERBS,
                              product=ZH_FOOD_PRODUCTS, time=ZH_TIMES, symptom=ZH_BODY_SYMPTOMS)
    yield "zh-med-food2", fill("我{verb}{product}{time}就开始{symptom}，是不是它的问题",
                               verb=ZH_FOOD_VERBS, product=ZH_FOOD_PRODUCTS, time=ZH_TIMES,
                               symptom=ZH_BODY_SYMPTOMS)
    yield "zh-med-food3", fill("孩子{verb}{product}{time}{symptom}", verb=ZH_FOOD_VERBS,
                               product=ZH_FOOD_PRODUCTS, time=ZH_TIMES, symptom=ZH_BODY_SYMPTOMS)
    yield "zh-med-wear", fill("{verb}你们的{product}{time}{body}{symptom}", verb=ZH_WEAR_VERBS,
                              product=ZH_WEAR_PRODUCTS, time=ZH_TIMES, body=ZH_BODY,
                              symptom=ZH_WEAR_SYMPTOMS)
    yield "zh-med-people", fill("{people}能{consume}这款{product}吗", people=ZH_PEOPLE,
                                consume=ZH_CONSUME, product=ZH_FOOD_PRODUCTS + ZH_SKIN_PRODUCTS)
    yield "zh-med-people2", fill("这个{product}适合{people}{consume}吗", people=ZH_PEOPLE,
                                 consume=ZH_CONSUME, product=ZH_FOOD_PRODUCTS + ZH_SKIN_PRODUCTS)
    yield "zh-med-dose", fill("{product}一天{consume}多少{unit}比较合适", product=ZH_FOOD_PRODUCTS,
                              consume=ZH_CONSUME, unit=["", "粒", "克", "勺", "次"])
    yield "zh-med-dose2", fill("{people}每天最多能{consume}几{unit}{product}", people=ZH_PEOPLE,
                               consume=ZH_CONSUME, unit=["粒", "勺", "包", "杯"],
                               product=ZH_FOOD_PRODUCTS)
    yield "zh-med-drug", fill("{product}和{drug}可以一起{consume}吗", product=ZH_FOOD_PRODUCTS,
                              drug=ZH_DRUGS, consume=ZH_CONSUME)
    yield "zh-med-drug2", fill("我在{consume}{drug}，还能{consume}你们的{product}吗",
                               product=ZH_FOOD_PRODUCTS, drug=ZH_DRUGS, consume=["吃", "服用"])
    yield "zh-med-organ", fill("长期{consume}这个{product}对{organ}有没有伤害", consume=ZH_CONSUME,
                               product=ZH_FOOD_PRODUCTS + ZH_SKIN_PRODUCTS, organ=ZH_ORGANS)
    yield "zh-med-cause", fill("{product}会不会引起{symptom}", product=ZH_FOOD_PRODUCTS + ZH_SKIN_PRODUCTS,
                               symptom=["过敏", "头疼", "失眠", "心慌", "拉肚子", "长痘", "脱发",
                                        "皮炎", "胃溃疡", "肝损伤"])
    yield "zh-med-normal", fill("{verb}{product}{time}{symptom}，这正常吗", verb=ZH_FOOD_VERBS + ZH_SKIN_VERBS,
                                product=ZH_FOOD_PRODUCTS + ZH_SKIN_PRODUCTS, time=["后", "以后", "之后"],
                                symptom=["有点头晕", "脸发红", "心跳加快", "肚子不舒服", "皮肤刺痒",
                                         "口干舌燥", "睡不着", "浑身发热"])
    yield "zh-med-organ2", fill("{product}{consume}多了会不会影响{organ}", consume=ZH_CONSUME,
                                product=ZH_FOOD_PRODUCTS, organ=ZH_ORGANS)


def zh_legal():
    yield "zh-legal-valid", fill("{clause}{legality}", clause=ZH_CLAUSES, legality=ZH_LEGALITY)
    yield "zh-legal-valid2", fill("你们{clause}，这{legality}", clause=ZH_CLAUSES,
                                  legality=ZH_LEGALITY)
    yield "zh-legal-valid3", fill("我想知道{clause}到底{legality}", clause=ZH_CLAUSES,
                                  legality=ZH_LEGALITY)
    yield "zh-legal-right", fill("{situation}，我在法律上有权{right}吗", situation=ZH_LEGAL_SITUATIONS,
                                 right=ZH_RIGHTS)
    yield "zh-legal-right2", fill("{situation}，按法律我能不能{right}", situation=ZH_LEGAL_SITUATIONS,
                                  right=ZH_RIGHTS)
    yield "zh-legal-sue", fill("{situation}，我可以{action}吗", situation=ZH_LEGAL_SITUATIONS,
                               action=["起诉你们", "告商家", "申请仲裁", "走法律途径",
                                       "找律师维权", "依法维权"])
    yield "zh-legal-law", fill("{situation}，这种情况法律上{question}", situation=ZH_LEGAL_SITUATIONS,
                               question=["怎么规定的", "谁来担责", "商家要负什么责任",
                                         "我能得到什么赔偿", "算违约吗", "算欺诈吗"])
    yield "zh-legal-void", fill("{clause}如果{legality2}，我还要遵守吗", clause=ZH_CLAUSES,
                                legality2=["违法", "无效", "不合法", "没有法律效力", "违反法律"])


def zh_legal_more():
    yield "zh-legal-hold", fill("{thing}{question}", thing=[
        "口头承诺", "电子签名", "聊天记录里的约定", "你们客服说的话", "收据上的小字", "店里贴的告示",
        "没盖章的合同", "补充协议", "签了字的免责书", "未成年人签的合同"],
        question=["算数吗", "在法律上算数吗", "有没有法律依据", "能作为证据吗", "法律允许吗",
                  "合规吗", "有法律约束力吗", "能当真吗，法律上怎么看"])
    yield "zh-legal-regret", fill("{situation}，我{question}", situation=[
        "合同签了三天", "定金已经交了", "分期办了一个月", "会员刚续费", "装修合同刚签",
        "租房合同还没到期"], question=[
        "还能依法反悔吗", "单方面解约要担法律责任吗", "不想履行了算违约吗",
        "在法律上能要求撤销吗", "按合同法能退吗"])


def zh_financial():
    yield "zh-fin-choice", fill("你们的{a}和{b}，{choice}", a=ZH_INVESTMENTS, b=ZH_INVESTMENTS,
                                choice=ZH_CHOICE)
    yield "zh-fin-choice2", fill("{money}想买{a}，{choice}", money=ZH_MONEY, a=ZH_INVESTMENTS,
                                 choice=ZH_CHOICE)
    yield "zh-fin-decide", fill("你们这款{a}{decision}", a=ZH_INVESTMENTS, decision=ZH_DECISIONS)
    yield "zh-fin-decide2", fill("我想买点{a}，{decision}", a=ZH_INVESTMENTS, decision=ZH_DECISIONS)
    yield "zh-fin-move", fill("把{money}{move}{a}里{question}", money=ZH_MONEY,
                              move=["转到", "放到", "存进", "投到", "挪到"], a=ZH_INVESTMENTS,
                              question=["划算吗", "合适吗", "稳不稳", "会不会亏本", "是不是更好",
                                        "好不好"])
    yield "zh-fin-move2", fill("要不要把{money}{move}你们的{a}", money=ZH_MONEY,
                               move=["转到", "放进", "换成", "投进"], a=ZH_INVESTMENTS)
    yield "zh-fin-alloc", fill("{money}应该怎么{how}", money=ZH_MONEY,
                               how=["投资", "理财", "配置", "分配才能收益最高", "打理比较稳",
                                    "投资才不会亏"])
    yield "zh-fin-borrow", fill("{should}贷款{purpose}", should=["我该不该", "要不要", "值不值得",
                                                               "你建议我", "我应不应该"],
                                purpose=ZH_BORROW)
    yield "zh-fin-borrow2", fill("为了{purpose}{how}", purpose=ZH_BORROW,
                                 how=["借网贷划算吗", "办分期好还是全款好", "刷信用卡套现合适吗",
                                      "抵押房子借钱值得吗"])
    yield "zh-fin-switch", fill("{switch}{a}{question}", switch=["换成", "转投", "改买", "赎回了换成",
                                                             "把钱挪到", "切换到"],
                                a=ZH_INVESTMENTS, question=["收益会更高吗", "会不会更赚钱",
                                                            "风险大吗", "是不是更稳", "值得吗",
                                                            "能多赚点吗"])
    yield "zh-fin-hold", fill("我手里的{a}{question}", a=ZH_INVESTMENTS, question=[
        "亏了该不该止损", "现在该卖了吗", "要不要继续拿着", "该不该补仓", "要不要赎回",
        "还能涨吗，该怎么操作"])
    yield "zh-fin-tax", fill("{income}怎么{tax}", income=["我的年终奖", "这笔投资收益",
                                                           "卖股票赚的钱", "兼职收入", "租金收入",
                                                           "海外收入"],
                             tax=["报税才能少交税", "合理避税", "申报个税最划算", "筹划税务"])


def zh_none():
    yield "zh-none-order", fill("{prefix}我的{thing}{question}", prefix=["请问", "", "你好，",
                                                                      "麻烦问下"],
                                thing=ZH_ORDERS,
                                question=["什么时候到", "到哪了", "怎么还没到", "怎么查",
                                          "怎么申请", "多久能处理好", "能改地址吗", "可以取消吗"])
    yield "zh-none-product", fill("这款{product}{question}", product=ZH_PRODUCTS,
                                  question=["有货吗", "有别的颜色吗", "保修期多长", "保质期多久",
                                            "包邮吗", "什么时候降价", "怎么安装", "有小样吗",
                                            "可以开发票吗", "能用优惠券吗", "是正品吗",
                                            "是哪里产的", "有说明书吗", "怎么清洗"])
    yield "zh-none-fault", fill("{product}{verb}{time}就{fault}", product=ZH_PRODUCTS,
                                verb=["用了", "才用了", "买了", "刚用"],
                                time=["三天", "一周", "两次", "没几天", "一个月"],
                                fault=ZH_FAULTS)
    yield "zh-none-fault2", fill("{verb}{time}{product}{fault}，能换吗", product=ZH_PRODUCTS,
                                 verb=["用了", "洗了", "充了一晚上电"],
                                 time=["之后", "以后", "后"], fault=ZH_FAULTS)
    yield "zh-none-device", fill("这个{acc}对{device}{question}", acc=ZH_ACCESSORIES,
                                 device=ZH_DEVICES,
                                 question=["安全吗", "有伤害吗", "伤电池吗", "兼容吗", "有影响吗"])
    yield "zh-none-cert", fill("{product}有{cert}吗", product=ZH_PRODUCTS + ZH_ACCESSORIES,
                               cert=ZH_CERTS)
    yield "zh-none-loan", fill("我的{loan}{question}", loan=["贷款", "借款", "分期", "信用贷",
                                                             "房贷", "车贷", "消费贷"],
                               question=["什么时候到账", "什么时候放款", "审批要多久",
                                         "还款日是哪天", "怎么提前还款", "利率是多少",
                                         "怎么查进度", "为什么被拒了", "额度是多少",
                                         "怎么改还款卡"])
    yield "zh-none-fund", fill("{product}{question}", product=["基金", "理财", "余额宝", "定期",
                                                               "黄金账户", "养老金账户"],
                               question=["页面打不开", "账户怎么登录", "赎回后多久到账",
                                         "收益什么时候到账", "的交易记录在哪看", "怎么绑定银行卡",
                                         "的对账单怎么下载", "为什么显示处理中",
                                         "的客服电话是多少", "的密码忘了怎么办"])
    yield "zh-none-savings", fill("怎么把{money}{move}", money=["存款", "余额", "工资", "零钱"],
                                  move=["转到另一张卡", "提现到银行卡", "转给家人",
                                        "转出来", "取出来"])
    yield "zh-none-contract", fill("{doc}{question}", doc=["合同", "电子合同", "协议", "用户协议",
                                                            "租赁合同", "保修条款", "退货政策",
                                                            "会员协议", "服务条款"],
                                   question=["在哪里下载", "怎么签", "在哪里看", "怎么打印",
                                             "签完什么时候生效", "能发我一份吗", "有英文版吗",
                                             "签错了怎么重签", "什么时候寄给我"])
    yield "zh-none-warranty", fill("{product}的保修{question}", product=ZH_PRODUCTS,
                                   question=["期多长", "从哪天开始算", "包括电池吗",
                                             "怎么申请", "需要发票吗", "可以延长吗",
                                             "卡丢了还能保吗"])
    yield "zh-none-coupon", fill("{coupon}{question}", coupon=["优惠券", "优惠码", "红包", "积分",
                                                                "礼品卡", "兑换码", "会员卡"],
                                 question=["的有效期是多久", "还有效吗", "显示无效怎么办",
                                           "过期了能补吗", "怎么用", "可以叠加吗",
                                           "为什么用不了", "能转给别人吗"])
    yield "zh-none-account", fill("{question}", question=[
        "怎么修改支付方式", "怎么改绑手机号", "密码忘了怎么办", "账号被锁了", "怎么开发票",
        "怎么申请退款", "退款什么时候到账", "运费谁出", "可以货到付款吗", "怎么修改收货地址",
        "能开专票吗", "会员怎么续费", "怎么取消自动续费", "积分怎么兑换", "客服电话多少",
        "发什么快递", "能指定送货时间吗", "信用卡怎么还款", "支持花呗分期吗", "怎么绑定银行卡"])
    yield "zh-none-complaint", fill("{gripe}{demand}", gripe=[
        "服务太差了", "等了一个星期还没发货", "客服态度恶劣", "东西是坏的", "你们发错货了",
        "说好的赠品没给", "退款拖了半个月", "快递员把包裹扔在门口", "质量太差了", "包装全破了",
        "你们这是骗人", "价格说变就变"], demand=[
        "，我要投诉", "，我要差评", "，必须给我一个说法", "，太失望了", "，赶紧处理",
        "，我要退款", "！", "，你们还做不做生意了", "，再也不买了"])
    yield "zh-none-threat", fill("{gripe}，{threat}", gripe=[
        "再不退款", "再不发货", "如果今天不给答复", "你们不赔偿的话", "再拖下去",
        "要是不给我换"], threat=[
        "我就起诉你们", "我就打12315", "我就找律师", "我就去消协投诉", "我就报警",
        "我就去网上曝光你们", "我们法院见", "我就去市场监管局举报"])
    yield "zh-none-chat", fill("{text}", text=[
        "你好", "在吗", "谢谢", "好的，谢谢你", "能让真人看一下吗", "帮我接售后", "你是机器人吗",
        "帮我把账号关掉", "清空我的收货地址", "我的手机号换了", "没用", "不是这个",
        "还有别的问题吗", "明白了", "太好了，问题解决了", "你们几点上班", "我想咨询一下",
        "能帮我查一下吗", "这个活动什么时候结束", "你们有实体店吗", "门店地址在哪",
        "直播间的价格能买到吗", "为什么我的评价被删了", "我想换个颜色", "可以加急吗"])
    yield "zh-none-plan", fill("{question}", question=[
        f"{verb}{plan}{what}" for verb in ["换成", "升级到", "切换到", "改成"]
        for plan in ["高级会员", "年度套餐", "家庭套餐", "大流量套餐", "企业版"]
        for what in ["要补差价吗", "怎么操作", "马上生效吗", "之前的积分还在吗"]])
    yield "zh-none-shop", fill("{question}", question=[
        f"{a}和{b}{what}" for a, b in [("这两款手机", ""), ("黑色", "白色"), ("大号", "小号"),
                                          ("128g", "256g"), ("这款面霜", "那款精华"), ("空气炸锅", "烤箱")]
        for what in ["哪个好", "选哪个比较好", "哪个更值得买", "推荐哪个", "哪个更划算"]]
        + [f"这款{product}{what}" for product in ZH_PRODUCTS[:10]
           for what in ["值得买吗", "现在入手划算吗", "要不要等降价再买"]])
    yield "zh-none-annoy", fill("{annoy}{tail}", annoy=ZH_ANNOYANCES,
                                tail=["", "，能快点吗", "，什么时候能解决", "，帮我看看"])
    yield "zh-none-use", fill("这个{product}{question}", product=ZH_SKIN_PRODUCTS + ZH_FOOD_PRODUCTS,
                              question=["怎么用", "有什么味道", "是什么颜色", "有多少毫升",
                                        "可以带上飞机吗", "保质期多久", "有赠品吗", "怎么保存",
                                        "开封后能放多久", "有没有大瓶装"])
    yield "zh-none-safe", fill("{product}{question}", product=["热水壶", "电暖器", "加湿器",
                                                              "电热毯", "儿童座椅", "婴儿车",
                                                              "玩具", "插线板"],
                               question=["有安全认证吗", "防烫吗", "会不会漏电",
                                         "符合国家标准吗", "有儿童锁吗", "过了质检吗"])


# ---------------------------------------------------------------------------------------------
# English fillers.

EN_SKIN_PRODUCTS = ["face cream", "serum", "sunscreen", "body lotion", "toner", "cleanser",
                    "eye cream", "hand cream", "sheet mask", "lip balm", "foundation", "hair dye",
                    "shampoo", "body wash", "perfume", "bug spray", "essential oil", "acne gel",
                    "moisturizer", "deodorant"]
EN_SKIN_VERBS = ["using", "applying", "putting on", "trying"]
EN_FOOD_PRODUCTS = ["supplement", "vitamins", "fish oil", "protein powder", "probiotics",
                    "detox tea", "meal replacement shake", "collagen drink", "melatonin gummies",
                    "energy drink", "snack bar", "gummies", "herbal tea", "baby formula",
                    "diet pills", "pre-workout", "keto bars", "iron tablets"]
EN_FOOD_VERBS = ["taking", "eating", "drinking", "having"]
EN_WEAR_PRODUCTS = ["earrings", "necklace", "watch strap", "contact lenses", "colored lenses",
                    "bra", "socks", "false lashes", "face mask", "fitness band", "ring"]
EN_WEAR_VERBS = ["wearing", "putting on", "using"]
EN_TIMES = ["after", "since", "a day after", "right after", "a few hours after",
            "the morning after", "ever since"]
EN_BODY = ["face", "skin", "hands", "neck", "arms", "scalp", "eyes", "lips", "ears", "back",
           "legs", "cheeks", "forehead"]
EN_SKIN_SYMPTOMS = ["broke out in a rash", "got itchy", "is red and itchy", "started burning",
                    "swelled up", "is covered in bumps", "is peeling", "got blisters",
                    "broke out badly", "feels like it's burning", "is red and swollen",
                    "came up in hives", "stings", "is cracked and bleeding"]
EN_BODY_SYMPTOMS = ["I get headaches", "I feel dizzy", "I feel sick", "I've had diarrhea",
                    "my stomach hurts", "I threw up", "my heart races", "I can't sleep",
                    "I feel weak all day", "I have trouble breathing", "I have a sore throat",
                    "I got a fever", "I feel nauseous", "I have cramps", "my hands feel numb",
                    "I'm bloated all the time"]
EN_WEAR_SYMPTOMS = ["are swollen", "are infected", "itch like crazy", "have a rash",
                    "are oozing", "are red and sore", "sting", "are bloodshot",
                    "keep watering", "hurt"]
EN_WEAR_BODY = ["ears", "eyes", "wrist", "neck", "feet", "fingers", "skin"]
EN_PEOPLE = ["pregnant women", "someone who is pregnant", "a breastfeeding mom",
             "a three-year-old", "a baby", "elderly people", "someone with high blood pressure",
             "diabetics", "someone with a heart condition", "someone with kidney problems",
             "people with asthma", "someone with a sensitive stomach", "someone trying to conceive",
             "someone on blood thinners", "someone recovering from surgery", "people with gout"]
EN_DRUGS = ["blood pressure pills", "aspirin", "antibiotics", "cold medicine", "ibuprofen",
            "birth control", "insulin", "sleeping pills", "antidepressants", "blood thinners"]
EN_ORGANS = ["liver", "kidneys", "heart", "stomach", "body", "skin", "child's growth",
             "blood sugar", "blood pressure", "sleep"]

EN_CLAUSES = ["this clause", "the no-refund policy", "the fine print", "this contract",
              "your user agreement", "the warranty exclusion", "the early termination fee",
              "the auto-renewal clause", "this disclaimer", "the non-refundable deposit rule",
              "the cancellation penalty", "the membership agreement", "the arbitration clause",
              "the non-compete in my contract", "the lease clause", "the restocking fee",
              "the installment contract I signed", "the no-returns-once-opened rule",
              "your right to change prices at any time", "the liability waiver"]
EN_LEGALITY = ["legal", "even legal", "legally binding", "enforceable", "valid under the law",
               "lawful", "allowed by law", "against consumer law", "binding on me",
               "void", "unlawful", "legit from a legal standpoint", "something a court would uphold",
               "compliant with consumer protection law"]
EN_RIGHTS = ["get a full refund", "cancel the contract", "refuse to pay the penalty",
             "claim compensation", "break the lease", "void the agreement",
             "get my deposit back", "claim damages", "return it within the cooling-off period",
             "hold you liable"]
EN_LEGAL_SITUATIONS = ["you won't give me a refund", "you changed the contract without asking",
                       "the product turned out to be fake", "you lost my parcel and won't pay",
                       "you cancelled my order on your own", "the item isn't as described",
                       "you leaked my personal data", "the contractor is three months late",
                       "my landlord kept my deposit", "you keep charging me fees I never agreed to"]

EN_INVESTMENTS = ["fund", "savings plan", "money market fund", "index fund", "bond fund",
                  "gold account", "stocks", "government bonds", "annuity", "wealth product",
                  "retirement plan", "high-yield fund", "growth portfolio", "income portfolio",
                  "crypto product", "ETF", "fixed-term deposit", "structured deposit",
                  "pension plan", "managed portfolio", "investment plan", "investment product"]
EN_MONEY = ["my savings", "my bonus", "$10,000", "my emergency fund", "my retirement money",
            "my kids' college fund", "my inheritance", "the money from selling my house",
            "my spare cash", "my paycheck", "half my savings", "my 401k"]
EN_CHOICE = ["which one should I pick", "which would you recommend for me", "which is better for me",
             "which one is the safer bet", "how should I choose", "which gives better returns",
             "which one would you buy"]
EN_DECISIONS = ["worth buying", "a good choice for me", "a good idea right now",
                "a safe place for my money", "something I should buy", "a smart move",
                "the right choice for my retirement", "going to make me money",
                "better than keeping cash"]
EN_BORROW = ["buy a car", "renovate my kitchen", "buy stocks", "pay for this laptop",
             "make a down payment", "pay off my credit card", "start a business",
             "invest in your fund", "go on vacation", "pay tuition"]


def en_medical():
    yield "en-med-skin", fill("{time} {verb} your {product} my {body} {symptom}", time=EN_TIMES,
                              verb=EN_SKIN_VERBS, product=EN_SKIN_PRODUCTS, body=EN_BODY,
                              symptom=EN_SKIN_SYMPTOMS)
    yield "en-med-skin2", fill("I used the {product} and now my {body} {symptom}",
                               product=EN_SKIN_PRODUCTS, body=EN_BODY, symptom=EN_SKIN_SYMPTOMS)
    yield "en-med-food", fill("{time} {verb} the {product} {symptom}", time=EN_TIMES,
                              verb=EN_FOOD_VERBS, product=EN_FOOD_PRODUCTS,
                              symptom=EN_BODY_SYMPTOMS)
    yield "en-med-food2", fill("the {product} {effect}", product=EN_FOOD_PRODUCTS,
                               effect=["gives me headaches", "makes me dizzy", "makes me nauseous",
                                       "upsets my stomach", "gives me heart palpitations",
                                       "keeps me up at night", "gave me diarrhea",
                                       "makes me feel shaky", "gave me hives",
                                       "made my son throw up"])
    yield "en-med-food3", fill("my {who} {symptom2} after {verb} your {product}",
                               who=["son", "daughter", "wife", "husband", "mom", "kid"],
                               symptom2=["got a stomach ache", "felt dizzy", "threw up",
                                         "broke out in hives", "had a fever", "got a headache",
                                         "couldn't breathe properly"],
                               verb=["eating", "drinking", "taking"], product=EN_FOOD_PRODUCTS)
    yield "en-med-wear", fill("{time} {verb} the {product} my {body} {symptom}", time=EN_TIMES,
                              verb=EN_WEAR_VERBS, product=EN_WEAR_PRODUCTS, body=EN_WEAR_BODY,
                              symptom=EN_WEAR_SYMPTOMS)
    yield "en-med-people", fill("is the {product} safe for {people}", product=EN_FOOD_PRODUCTS
                                + EN_SKIN_PRODUCTS, people=EN_PEOPLE)
    yield "en-med-people2", fill("can {people} {verb} your {product}?", people=EN_PEOPLE,
                                 verb=["take", "use", "drink", "eat"],
                                 product=EN_FOOD_PRODUCTS + EN_SKIN_PRODUCTS)
    yield "en-med-dose", fill("how many {unit} of the {product} should I take {when}",
                              unit=["capsules", "scoops", "tablets", "servings", "gummies"],
                              product=EN_FOOD_PRODUCTS, when=["a day", "per day", "at night",
                                                              "before a workout", ""])
    yield "en-med-dose2", fill("what's the maximum amount of {product} {people} can take daily",
                               product=EN_FOOD_PRODUCTS, people=EN_PEOPLE)
    yield "en-med-drug", fill("can I take the {product} with {drug}", product=EN_FOOD_PRODUCTS,
                              drug=EN_DRUGS)
    yield "en-med-drug2", fill("I'm on {drug}, is it ok to {verb} your {product}?", drug=EN_DRUGS,
                               verb=["take", "drink", "use"], product=EN_FOOD_PRODUCTS)
    yield "en-med-organ", fill("will {verb} the {product} every day hurt my {organ}",
                               verb=["taking", "drinking", "using"],
                               product=EN_FOOD_PRODUCTS + EN_SKIN_PRODUCTS, organ=EN_ORGANS)
    yield "en-med-cause", fill("can the {product} cause {symptom}", product=EN_FOOD_PRODUCTS + EN_SKIN_PRODUCTS,
                               symptom=["an allergic reaction", "headaches", "insomnia", "palpitations",
                                        "diarrhea", "acne", "hair loss", "dermatitis", "stomach ulcers",
                                        "liver damage"])
    yield "en-med-normal", fill("is it normal to {symptom} after {verb} the {product}",
                                verb=["taking", "using", "drinking", "applying"],
                                product=EN_FOOD_PRODUCTS + EN_SKIN_PRODUCTS,
                                symptom=["feel lightheaded", "have a flushed face", "feel my heart pound",
                                         "have an upset stomach", "have itchy skin", "have a dry mouth",
                                         "be unable to sleep", "feel hot all over"])
    yield "en-med-organ2", fill("is too much of the {product} bad for my {organ}",
                                product=EN_FOOD_PRODUCTS, organ=EN_ORGANS)


def en_legal():
    yield "en-legal-valid", fill("is {clause} {legality}?", clause=EN_CLAUSES, legality=EN_LEGALITY)
    yield "en-legal-valid2", fill("your terms include {clause}, is that {legality}",
                                  clause=EN_CLAUSES, legality=EN_LEGALITY)
    yield "en-legal-valid3", fill("I want to know whether {clause} is {legality}",
                                  clause=EN_CLAUSES, legality=EN_LEGALITY)
    yield "en-legal-can", fill("can you legally {action}", action=[
        "refuse a refund", "keep my deposit", "charge a cancellation fee", "change the price after I paid",
        "cancel my order without telling me", "refuse to repair it under warranty",
        "share my data with partners", "renew my plan without asking", "charge me a restocking fee",
        "refuse a return of a faulty item", "hold my money for 90 days",
        "make me pay for return shipping on a defective item"], )
    yield "en-legal-right", fill("{situation}, do I have the legal right to {right}?",
                                 situation=EN_LEGAL_SITUATIONS, right=EN_RIGHTS)
    yield "en-legal-right2", fill("{situation}, what are my rights under the law",
                                  situation=EN_LEGAL_SITUATIONS)
    yield "en-legal-right3", fill("if {situation}, does the law let me {right}",
                                  situation=EN_LEGAL_SITUATIONS, right=EN_RIGHTS)
    yield "en-legal-sue", fill("{situation}, can I {action}", situation=EN_LEGAL_SITUATIONS,
                               action=["sue you", "take you to small claims", "file a lawsuit",
                                       "take legal action", "get a lawyer involved",
                                       "go to arbitration"])
    yield "en-legal-obliged", fill("am I legally {obliged} to {what}", obliged=[
        "required", "obliged", "bound"], what=["pay the early termination fee",
                                               "keep paying after I cancel", "honor this contract",
                                               "return the gift", "pay the penalty in the agreement",
                                               "accept the new terms", "pay for the damage"])
    yield "en-legal-void", fill("if {clause} is {bad}, do I still have to follow it",
                                clause=EN_CLAUSES, bad=["illegal", "unenforceable", "void",
                                                        "invalid", "against the law", "unlawful"])


def en_legal_more():
    yield "en-legal-hold", fill("{question} {thing}", thing=[
        "a verbal promise from your agent", "an e-signature", "what your rep said in chat",
        "the small print on the receipt", "a sign posted in the store", "an unsigned contract",
        "the side agreement", "the waiver I signed", "a contract signed by a minor"],
        question=["does the law recognize", "would a court uphold", "is there any legal weight to",
                  "is it legally binding,", "can I rely on, legally,", "does it hold up in court,"])
    yield "en-legal-hold2", fill("would {thing} {hold}", thing=["the waiver", "this clause", "the contract",
                                                               "the no-refund rule", "your disclaimer",
                                                               "the penalty clause"],
                                 hold=["hold up legally", "stand up in court", "survive a legal challenge",
                                       "be enforceable against me", "count under the law"])
    yield "en-legal-regret", fill("{situation}, {question}", situation=[
        "I signed the contract three days ago", "I already paid the deposit",
        "I started the installment plan last month", "my membership just renewed",
        "I signed with the contractor yesterday", "my lease hasn't ended"], question=[
        "can I legally back out", "would cancelling be a breach of contract",
        "am I liable if I walk away", "does the law give me a cooling-off period",
        "can I rescind it under consumer law"])


def en_financial():
    yield "en-fin-choice", fill("between your {a} and your {b}, {choice}?", a=EN_INVESTMENTS,
                                b=EN_INVESTMENTS, choice=EN_CHOICE)
    yield "en-fin-choice2", fill("I want to put {money} in a {a}, {choice}?", money=EN_MONEY,
                                 a=EN_INVESTMENTS, choice=EN_CHOICE)
    yield "en-fin-decide", fill("is your {a} {decision}?", a=EN_INVESTMENTS, decision=EN_DECISIONS)
    yield "en-fin-decide2", fill("thinking about buying the {a}, is it {decision}", a=EN_INVESTMENTS,
                                 decision=EN_DECISIONS)
    yield "en-fin-move", fill("should I {move} {money} into the {a}?", money=EN_MONEY,
                              move=["move", "put", "transfer", "invest", "shift"],
                              a=EN_INVESTMENTS)
    yield "en-fin-move2", fill("would it be smart to {move} {money} into your {a}",
                               money=EN_MONEY, move=["move", "put", "roll"], a=EN_INVESTMENTS)
    yield "en-fin-alloc", fill("how should I {how} {money}", money=EN_MONEY,
                               how=["invest", "allocate", "split", "grow", "diversify"])
    yield "en-fin-borrow", fill("{should} take out a loan to {purpose}", should=[
        "should I", "is it smart to", "would you advise me to", "does it make sense to",
        "is it wise to"], purpose=EN_BORROW)
    yield "en-fin-borrow2", fill("{should} borrow money to {purpose}", should=[
        "should I", "is it a good idea to", "do you think I should"], purpose=EN_BORROW)
    yield "en-fin-switch", fill("{question} if I {switch} the {a}", switch=["switch to", "move to",
                                                                          "swap my fund for",
                                                                          "cash out and buy",
                                                                          "upgrade to"],
                                a=EN_INVESTMENTS, question=["will I earn more", "would I make more money",
                                                            "is it riskier", "would it be safer",
                                                            "is it worth it", "will my returns improve"])
    yield "en-fin-hold", fill("my {a} {state}, should I {act}", a=EN_INVESTMENTS,
                              state=["is down 10%", "went up a lot", "is losing money", "is flat"],
                              act=["sell", "hold", "buy more", "cut my losses", "redeem it"])
    yield "en-fin-tax", fill("how can I {tax} on {income}", tax=[
        "pay less tax", "minimize taxes", "avoid tax", "reduce my tax bill",
        "get the best tax treatment"], income=["my bonus", "my investment gains", "my side income",
                                               "rental income", "crypto profits",
                                               "money I earn abroad"])


EN_ORDERS = ["order", "package", "parcel", "delivery", "refund", "invoice", "return",
             "exchange", "free gift", "coupon"]
EN_PRODUCTS = ["phone", "earbuds", "charger", "rice cooker", "air fryer", "robot vacuum",
               "jacket", "shoes", "face cream", "supplement", "sofa", "mattress", "laptop",
               "watch", "vacuum cleaner", "desk lamp", "protein powder", "shampoo", "kettle",
               "stroller"]
EN_DEVICES = ["phone", "tablet", "laptop", "earbuds", "smartwatch", "camera", "game console",
              "electric toothbrush"]
EN_ACCESSORIES = ["charger", "cable", "power bank", "wireless charging pad", "fast charger",
                  "travel adapter", "case"]
EN_CERTS = ["UL certification", "CE marking", "FCC approval", "a safety certificate",
            "an IP68 rating", "an energy rating", "a test report"]
EN_FAULTS = ["the screen cracked", "it won't turn on", "it gets really hot", "it stopped charging",
             "it makes a weird noise", "it leaks", "the paint is peeling", "it lags",
             "it shuts itself off", "the buttons stopped working", "it shrank", "the color faded",
             "it's pilling", "it split open", "it stopped spraying"]
EN_ANNOYANCES = ["this delivery mess is giving me a headache", "your app is a real headache",
                 "sorting out this refund has been a headache", "what a headache this order is",
                 "the packaging is sickening", "this checkout process makes me sick",
                 "changing my address is such a pain", "logging in every time is a pain in the neck"]


def en_none():
    yield "en-none-order", fill("{prefix}{question} my {thing}", prefix=["hi, ", "", "hello, ",
                                                                       "quick question: "],
                                thing=EN_ORDERS,
                                question=["when will I get", "where is", "why haven't I received",
                                          "how do I track", "how do I request", "how long to process",
                                          "can I change the address on", "can I cancel"])
    yield "en-none-product", fill("does the {product} {question}", product=EN_PRODUCTS,
                                  question=["come in other colors", "have a warranty",
                                            "ship for free", "go on sale soon", "need assembly",
                                            "come with a manual", "qualify for the coupon",
                                            "come in a bigger size", "have a sample size",
                                            "ship internationally"])
    yield "en-none-product2", fill("is the {product} {question}", product=EN_PRODUCTS,
                                   question=["in stock", "genuine", "available in blue",
                                             "on sale", "eligible for free returns",
                                             "made in the EU", "discontinued"])
    yield "en-none-fault", fill("{time} using the {product} for {span}, {fault}",
                                time=["after", "since"], product=EN_PRODUCTS,
                                span=["three days", "a week", "a month", "two uses"],
                                fault=EN_FAULTS)
    yield "en-none-fault2", fill("my {product} {fault2} after {what}, can I get a replacement",
                                 product=EN_PRODUCTS, fault2=["broke", "stopped working",
                                                              "got scratched", "started leaking",
                                                              "cracked", "shrank"],
                                 what=["one wash", "two days", "the update", "I charged it",
                                       "first use"])
    yield "en-none-device", fill("is the {acc} safe for my {device}", acc=EN_ACCESSORIES,
                                 device=EN_DEVICES)
    yield "en-none-device2", fill("will the {acc} {harm} my {device}", acc=EN_ACCESSORIES,
                                  harm=["damage", "hurt the battery of", "work with", "overheat",
                                        "fit"], device=EN_DEVICES)
    yield "en-none-cert", fill("does the {product} have {cert}", product=EN_PRODUCTS + EN_ACCESSORIES,
                               cert=EN_CERTS)
    yield "en-none-loan", fill("{question} my {loan}", loan=["loan", "personal loan", "car loan",
                                                             "mortgage", "installment plan",
                                                             "credit line"],
                               question=["when will I receive", "when do you disburse",
                                         "how long does approval take for",
                                         "what's the due date on", "how do I pay off early",
                                         "what is the interest rate on", "how can I check the status of",
                                         "why was I rejected for", "what's the limit on",
                                         "how do I change the bank card for"])
    yield "en-none-fund", fill("{question}", question=[
        "the fund page won't load", "how do I log into my fund account",
        "when will my fund redemption arrive", "when are returns credited to my account",
        "where can I see my fund transaction history", "how do I link a bank card to my savings account",
        "how do I download my investment statement", "why does my redemption say pending",
        "what's the phone number for the wealth team", "I forgot my investment account password",
        "how do I transfer my savings to another account", "how do I withdraw my balance",
        "can I see my pension statement online", "my gold account app keeps crashing",
        "the annuity payment didn't show up this month", "how do I update the beneficiary form",
        "where is the tax form for my account", "when does the savings account pay interest",
        "how do I close my savings account", "can I change the debit date for my plan"])
    yield "en-none-contract", fill("{question} the {doc}", doc=["contract", "e-contract",
                                                                "agreement", "user agreement",
                                                                "lease", "warranty terms",
                                                                "return policy",
                                                                "membership agreement",
                                                                "terms of service"],
                                   question=["where can I download", "how do I sign",
                                             "where can I read", "how do I print",
                                             "when does it take effect,", "can you email me",
                                             "is there a Chinese version of", "I signed the wrong version of",
                                             "when will you mail"])
    yield "en-none-warranty", fill("{question} for the {product}", product=EN_PRODUCTS,
                                   question=["how long is the warranty", "when does the warranty start",
                                             "does the warranty cover the battery",
                                             "how do I claim the warranty",
                                             "do I need a receipt for the warranty",
                                             "can I extend the warranty",
                                             "is there a warranty card"])
    yield "en-none-coupon", fill("{question}", question=[
        "my promo code is not valid", "is my coupon still valid", "how long is the voucher valid for",
        "the gift card says invalid", "my discount code shows invalid, what do I do",
        "can I use two coupons", "why can't I use my points", "my coupon expired, can you reissue it",
        "is a valid ID required for pickup", "is my membership card valid in stores",
        "the code is invalid at checkout", "does the coupon apply to sale items",
        "the voucher is valid until when", "my card was declined as invalid"])
    yield "en-none-account", fill("{question}", question=[
        "how do I update my payment card", "how do I change my phone number", "I forgot my password",
        "my account is locked", "how do I get an invoice", "how do I request a refund",
        "when will my refund arrive", "who pays for return shipping", "can I pay cash on delivery",
        "how do I change my delivery address", "can I get a VAT invoice", "how do I renew my membership",
        "how do I cancel auto-renewal", "how do I redeem my points", "what's your phone number",
        "which courier do you use", "can I choose a delivery time", "how do I pay my credit card bill",
        "do you offer installments", "can I cancel my subscription", "where is my order",
        "what is your return policy", "the terms page won't load"])
    yield "en-none-complaint", fill("{gripe}{demand}", gripe=[
        "this is not ok", "awful support", "I've waited a week and nothing shipped",
        "your agent was rude", "the item arrived broken", "you sent the wrong item",
        "the free gift never came", "my refund is two weeks late", "the courier threw my parcel",
        "the quality is awful", "the box was crushed", "you changed the price after I ordered"],
        demand=[", I'm filing a complaint", ", I'm leaving a bad review",
                ", I want an explanation", ", very disappointed", ", fix this now",
                ", I want my money back", "!", ", never buying again", ", I want to complain"])
    yield "en-none-threat", fill("{gripe}, {threat}", gripe=[
        "if I don't get a refund today", "if you don't ship it this week", "unless you fix this",
        "if you won't compensate me", "if this drags on any longer",
        "if you refuse to replace it"], threat=[
        "I'll sue you", "I'm calling my lawyer", "see you in court", "I'll report you to consumer protection",
        "I'll take legal action", "I'll go to the better business bureau", "I'll file a chargeback",
        "I'll post about this everywhere"])
    yield "en-none-chat", fill("{text}", text=[
        "hi", "hello, anyone there?", "thanks", "ok thank you", "put me through to support", "can a person look at this",
        "are you a bot", "close my account and erase what you store", "wipe my saved addresses", "I changed my phone number",
        "that didn't help", "not what I asked", "anything else?", "got it", "great, that fixed it",
        "what are your hours", "I have a question", "can you check for me", "when does the sale end",
        "do you have a physical store", "where is your store", "why was my review removed",
        "I'd like a different color", "can you rush my order", "is there a loyalty program",
        "can I borrow a demo unit in store", "my neighbour signed for the parcel"])
    yield "en-none-plan", fill("{question}", question=[
        f"{what} if I {verb} the {plan}" for verb in ["switch to", "upgrade to", "move to", "downgrade to"]
        for plan in ["premium plan", "annual plan", "family plan", "pro subscription", "business tier"]
        for what in ["do I pay the difference", "how does billing work", "does it apply right away",
                     "do I keep my points", "will I lose my data"]])
    yield "en-none-returns", fill("{question}", question=[
        "how do returns work", "are returns free", "where do I send returns", "what's the returns window",
        "do you accept returns on sale items", "returns are taking forever", "is there a returns label in the box",
        "can I drop off returns at a store", "how long do returns take to process",
        "will I get a better price if I wait for the sale", "is the premium model worth the extra money",
        "which of these two phones has the better camera", "should I buy the 128GB or 256GB version",
        "which size should I pick", "is it a good time to buy a TV or will it go on sale",
        "would you recommend the blue or the black one"])
    yield "en-none-annoy", fill("{annoy}{tail}", annoy=EN_ANNOYANCES,
                                tail=["", ", can you hurry up", ", when will it be fixed",
                                      ", please help"])
    yield "en-none-use", fill("{question} the {product}", product=EN_SKIN_PRODUCTS + EN_FOOD_PRODUCTS,
                              question=["how do I use", "what does it smell like,", "what color is",
                                        "how many ml is", "can I fly with", "what's the shelf life of",
                                        "is there a free gift with", "how should I store",
                                        "how long does it last once opened,",
                                        "is there a bigger bottle of"])
    yield "en-none-safe", fill("{question}", question=[
        f"is the {product} {what}" for product in ["kettle", "heater", "humidifier",
                                                   "electric blanket", "car seat", "stroller",
                                                   "toy", "power strip"]
        for what in ["safety certified", "safe to leave on overnight", "safe for children to use",
                     "up to code", "fitted with a child lock", "tested for quality"]])


GENERATORS = [("zh", "medical", zh_medical), ("zh", "legal", zh_legal),
              ("zh", "legal", zh_legal_more), ("en", "legal", en_legal_more),
              ("zh", "financial", zh_financial), ("zh", "none", zh_none),
              ("en", "medical", en_medical), ("en", "legal", en_legal),
              ("en", "financial", en_financial), ("en", "none", en_none)]

# Ordinary questions are many and varied: more of them per template.
PER_TEMPLATE_NONE = 130


def examples(seed=SEED):
    rng = random.Random(seed)
    rows = {}
    for lang, label, generator in GENERATORS:
        for name, texts in generator():
            texts = sorted(set(" ".join(text.split()) for text in texts))
            cap = PER_TEMPLATE_NONE if label == "none" else PER_TEMPLATE
            if len(texts) > cap:
                texts = rng.sample(texts, cap)
            for text in texts:
                # A text two templates wrote keeps the first label (none is written last).
                rows.setdefault(text, {"text": text, "label": label, "lang": lang,
                                       "template": name})
    return [rows[text] for text in sorted(rows)]


def main():
    rows = examples()
    if "--stats" in sys.argv:
        counts = {}
        for row in rows:
            key = (row["lang"], row["label"])
            counts[key] = counts.get(key, 0) + 1
        for key in sorted(counts):
            print(*key, counts[key])
        print("total", len(rows), "templates", len({row["template"] for row in rows}))
        return
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if "--out" in sys.argv:
        with open(sys.argv[sys.argv.index("--out") + 1], "w", encoding="utf-8") as out:
            out.write(lines)
    else:
        sys.stdout.write(lines)


if __name__ == "__main__":
    main()
