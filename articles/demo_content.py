"""Demo people, references and articles for `manage.py load_demo` (local use only).

The text is our own, modelled on the two seed documents' shapes: a Q&A answer with a clinician and a
patient version and numbered references, and a news explainer with a byline.
"""

from __future__ import annotations

from typing import Any

PEOPLE: list[dict[str, Any]] = [
    {
        "username": "writer",
        "password": "writer-demo-2026",
        "email": "writer@example.org",
        "group": "Writers",
        "display_name": "Dana Okafor",
        "credentials": "MBBS, medical writer",
        "bio": (
            "Dana trained in medicine before turning to health writing. She explains respiratory and "
            "allergy research for patients and busy clinicians, and checks every claim against its source."
        ),
        "specialty": "Respiratory and allergy writing",
        "disclosures": "",
    },
    {
        "username": "reviewer",
        "password": "reviewer-demo-2026",
        "email": "reviewer@example.org",
        "group": "Advisory Board",
        "display_name": "Dr. Priya Raman",
        "credentials": "MD, pulmonologist",
        "bio": "Consultant in respiratory medicine with a severe-asthma clinic.",
        "specialty": "Respiratory medicine",
        "disclosures": "Advisory-board fees from a maker of inhaled medicines (2024); none related to biologics.",
    },
    {
        "username": "reviewer2",
        "password": "reviewer2-demo-2026",
        "email": "reviewer2@example.org",
        "group": "Advisory Board",
        "display_name": "Dr. Tomás Lindqvist",
        "credentials": "MD, allergist and immunologist",
        "bio": "Allergist with a research interest in type 2 inflammation of the upper and lower airway.",
        "specialty": "Allergy and clinical immunology",
        "disclosures": "",
    },
    {
        "username": "editor",
        "password": "editor-demo-2026",
        "email": "editor@example.org",
        "group": None,
        "display_name": "Morgan Hale",
        "credentials": "Editor-in-chief",
        "bio": "",
        "staff": True,
    },
]

# Real publications; identifiers checked against their journal pages and PubMed.
REFERENCES: list[dict[str, Any]] = [
    {
        "key": "wenzel2013",
        "kind": "research",
        "title": "Dupilumab in persistent asthma with elevated eosinophil levels",
        "authors": "Wenzel S\nFord L\nPearlman D\nSpector S\nSher L\nSkobieranda F",
        "source": "The New England Journal of Medicine",
        "year": 2013,
        "volume": "368",
        "pages": "2455-2466",
        "doi": "10.1056/nejmoa1304048",
        "pmid": "23688323",
    },
    {
        "key": "castro2018",
        "kind": "research",
        "title": "Dupilumab efficacy and safety in moderate-to-severe uncontrolled asthma",
        "authors": "Castro M\nCorren J\nPavord ID\nMaspero J\nWenzel S\nRabe KF",
        "source": "The New England Journal of Medicine",
        "year": 2018,
        "volume": "378",
        "pages": "2486-2496",
        "doi": "10.1056/nejmoa1804092",
        "pmid": "29782217",
    },
    {
        "key": "rabe2018",
        "kind": "research",
        "title": "Efficacy and safety of dupilumab in glucocorticoid-dependent severe asthma",
        "authors": "Rabe KF\nNair P\nBrusselle G\nMaspero JF\nCastro M\nSher L",
        "source": "The New England Journal of Medicine",
        "year": 2018,
        "volume": "378",
        "pages": "2475-2485",
        "doi": "10.1056/nejmoa1804093",
        "pmid": "29782224",
    },
    {
        "key": "wechsler2022",
        "kind": "research",
        "title": (
            "Long-term safety and efficacy of dupilumab in patients with moderate-to-severe asthma "
            "(TRAVERSE): an open-label extension study"
        ),
        "authors": "Wechsler ME\nFord LB\nMaspero JF\nPavord ID\nPapi A\nBourdin A",
        "source": "The Lancet Respiratory Medicine",
        "year": 2022,
        "volume": "10",
        "pages": "11-25",
        "doi": "10.1016/s2213-2600(21)00322-2",
        "pmid": "34597534",
    },
    {
        "key": "bachert2019",
        "kind": "research",
        "title": (
            "Efficacy and safety of dupilumab in patients with severe chronic rhinosinusitis with nasal "
            "polyps (LIBERTY NP SINUS-24 and LIBERTY NP SINUS-52): results from two multicentre, "
            "randomised, double-blind, placebo-controlled, parallel-group phase 3 trials"
        ),
        "authors": "Bachert C\nHan JK\nDesrosiers M\nHellings PW\nAmin N\nLee SE",
        "source": "The Lancet",
        "year": 2019,
        "volume": "394",
        "pages": "1638-1650",
        "doi": "10.1016/s0140-6736(19)31881-1",
        "pmid": "31543428",
    },
    {
        "key": "holguin2020",
        "kind": "guideline",
        "title": "Management of severe asthma: a European Respiratory Society/American Thoracic Society guideline",
        "authors": "Holguin F\nCardet JC\nChung KF\nDiver S\nFerreira DS\nFitzpatrick A",
        "source": "European Respiratory Journal",
        "year": 2020,
        "volume": "55",
        "pages": "1900588",
        "doi": "10.1183/13993003.00588-2019",
        "pmid": "31558662",
    },
    {
        "key": "chung2014",
        "kind": "guideline",
        "title": "International ERS/ATS guidelines on definition, evaluation and treatment of severe asthma",
        "authors": "Chung KF\nWenzel SE\nBrozek JL\nBush A\nCastro M\nSterk PJ",
        "source": "European Respiratory Journal",
        "year": 2014,
        "volume": "43",
        "pages": "343-373",
        "doi": "10.1183/09031936.00202013",
        "pmid": "24337046",
    },
    {
        "key": "irwin2018",
        "kind": "guideline",
        "title": (
            "Classification of cough as a symptom in adults and management algorithms: "
            "CHEST guideline and expert panel report"
        ),
        "authors": "Irwin RS\nFrench CL\nChang AB\nAltman KW",
        "source": "Chest",
        "year": 2018,
        "volume": "153",
        "pages": "196-209",
        "doi": "10.1016/j.chest.2017.10.016",
        "pmid": "29080708",
    },
    {
        "key": "dupixentpi",
        "kind": "label",
        "title": "DUPIXENT (dupilumab) injection, for subcutaneous use: full prescribing information",
        "authors": "",
        "source": "Regeneron Pharmaceuticals and Sanofi",
        "year": 2024,
        "url": "https://www.regeneron.com/downloads/dupixent_fpi.pdf",
    },
    # Really retracted (The Lancet, February 2010): the third demo article cites it so the citation watch has
    # something to find. Without internet its check ends "unreachable", never "clean".
    {
        "key": "wakefield1998",
        "kind": "research",
        "title": (
            "Ileal-lymphoid-nodular hyperplasia, non-specific colitis, and pervasive developmental disorder in children"
        ),
        "authors": "Wakefield AJ\nMurch SH\nAnthony A\nLinnell J\nCasson DM\nMalik M",
        "source": "The Lancet",
        "year": 1998,
        "volume": "351",
        "pages": "637-641",
        "doi": "10.1016/s0140-6736(97)11096-0",
        "pmid": "9500320",
    },
    {
        "key": "hviid2019",
        "kind": "research",
        "title": "Measles, mumps, rubella vaccination and autism: a nationwide cohort study",
        "authors": "Hviid A\nHansen JV\nFrisch M\nMelbye M",
        "source": "Annals of Internal Medicine",
        "year": 2019,
        "volume": "170",
        "pages": "513-520",
        "doi": "10.7326/m18-2101",
        "pmid": "30831578",
    },
]

QA_BODY_CLINICIAN = """\
## Two problems, treated together

Persistent cough with mucus in a patient on dupilumab is usually two processes running side by side:
upper-airway disease (rhinitis, chronic rhinosinusitis, post-nasal drip) and the asthma that the
biologic was started for [@irwin2018; @holguin2020]. Treating the nose does not make the biologic
redundant, and a residual cough does not by itself mean the biologic has failed.

The prescribing information advises patients not to stop or reduce their other asthma controllers
without medical advice, because control that those drugs achieved may be lost [@dupixentpi].

## Evidence for staying on dupilumab

- Dupilumab blocks the shared IL-4/IL-13 receptor subunit and so acts on type 2 inflammation in both
  the lower and the upper airway [@wenzel2013; @castro2018].
- In the first phase 2 trial, patients with raised eosinophils had 87% fewer exacerbations than with
  placebo while their inhaled controllers were being withdrawn [@wenzel2013].
- In QUEST, severe exacerbations fell by roughly half and FEV1 improved by week 12 [@castro2018].
- In glucocorticoid-dependent disease (VENTURE), oral steroid doses fell by 70% against 42% with
  placebo [@rabe2018].
- The open-label extension TRAVERSE showed benefit held for up to three years [@wechsler2022].
- Dupilumab is also licensed for chronic rhinosinusitis with nasal polyps, where it shrank polyps and
  eased congestion [@bachert2019; @dupixentpi].

## A stepwise plan

1. **Keep the current regimen.** Continue dupilumab and the inhaled controllers; make no reduction
   without supervision [@dupixentpi; @holguin2020].
2. **Optimise the upper airway.** Give intranasal therapy a full trial; procedures aimed at the
   posterior nasal nerve are reasonable if sprays fail; look for nasal polyps [@irwin2018; @bachert2019].
3. **Reassess after 4 to 8 weeks.** If cough persists with a settled nose, measure type 2 activity
   (blood or sputum eosinophils, FeNO) and consider a leukotriene receptor antagonist or a higher inhaled
   corticosteroid dose [@chung2014; @holguin2020].
4. **Only then look elsewhere:** reflux, non-asthmatic eosinophilic bronchitis and inducible laryngeal
   obstruction are the usual alternatives [@irwin2018].

## Judging response

A biologic is working if exacerbations needing oral steroids or emergency care fall, spirometry
improves, and reliever use drops [@castro2018; @wechsler2022]. Cough alone is a poor marker of
response when comorbid upper-airway disease is active [@irwin2018].

Reassess the whole plan if cough and mucus persist after 8 to 12 weeks of optimised nasal treatment,
if wheeze or breathlessness worsens, or if severe exacerbations keep occurring [@holguin2020].
"""

QA_BODY_PATIENT = """\
## Why you may still cough

Your cough and mucus may come from two places. One is your nose and sinuses. Mucus can drip down the
back of your throat and make you cough [@irwin2018]. The other is your asthma. Dupixent treats the
asthma part [@castro2018].

So a cough that has not gone away does not mean Dupixent has stopped working.

## Keep taking Dupixent for now

- Dupixent calms the kind of swelling that drives both asthma and nose problems [@wenzel2013].
- In large studies, people on Dupixent had far fewer bad asthma attacks [@castro2018].
- Many people could also take less steroid medicine [@rabe2018].
- The benefit lasted for up to three years in a long study [@wechsler2022].
- Dupixent is also approved for nasal polyps, so it may help your nose too [@bachert2019].

Do not stop Dupixent or your inhalers on your own. Talk with your care team first. Stopping can bring
your asthma symptoms back [@dupixentpi].

## What to do next

1. Keep using your nose spray as your doctor told you.
2. If the spray does not help, ask about other nose treatments.
3. Give the nose treatment 4 to 8 weeks. Then check in with your doctor again [@holguin2020].
4. If you still cough, your doctor may test for other causes, such as acid reflux [@irwin2018].

## Signs that Dupixent is helping

- You have fewer asthma attacks.
- You need your rescue inhaler less often.
- You can be more active.

Call your doctor soon if you get more wheezy or short of breath, or if you have an asthma attack.
"""

NEWS_BODY_CLINICIAN = """\
## What the study did

Researchers at Karolinska Institutet followed 40 adults with severe asthma who were starting a
biologic, mostly mepolizumab or dupilumab. They sampled blood before and during treatment and profiled
immune cells with flow cytometry and single-cell RNA sequencing. The work is part of the Swedish
BIOCROSS cohort and was reported in *Allergy*.

## What they found

Symptoms and exacerbations improved, as the pivotal trials predicted [@castro2018]. But several
circulating cell populations with high inflammatory potential, including type 2 lymphoid cells and
memory T cells, rose rather than fell while patients were on treatment.

## Why it matters for practice

If biologics suppress downstream signalling while the cells that drive it persist, disease activity may
return when treatment stops. That fits the clinical experience that control is often lost after
withdrawal, and it argues against treating a good response as a cure. Long-term data already show
benefit is sustained while treatment continues [@wechsler2022].

## Limits and next steps

Blood is not airway tissue, and 40 patients is a small sample. The group now plans bronchial biopsies and
longer follow-up to see how these cells behave in the lung itself.
"""

NEWS_BODY_PATIENT = """\
## What are biologics?

Biologics are medicines made in a lab. Each one blocks one part of the immune system. They help many
people with severe asthma who still have attacks while using steroid inhalers [@castro2018].

## What did the study find?

A team in Sweden took blood from 40 people with severe asthma. They tested it before and during
treatment with a biologic. People felt better and had fewer attacks. But some immune cells that cause
swelling in the airways went up, not down.

## Why this matters to you

Biologics may calm asthma without removing its cause. This may be why asthma often comes back when
people stop treatment. The benefit does last as long as people stay on it [@wechsler2022].

Do not stop a biologic on your own. Talk with your doctor about any change.

## What comes next

The team will now study samples from inside the lungs. They will also follow people for longer.
"""

RETRACTION_DEMO_CLINICIAN = """\
> **Demo article.** This sample shows how the citation watch flags a retracted source. It was written
> for the demonstration site and is not medical advice.

## The paper

In 1998 *The Lancet* published a case series of 12 children with bowel symptoms and developmental
regression, several of whom had, according to their parents, first shown symptoms soon after MMR
vaccination [@wakefield1998]. The paper proved no causal link, yet it was widely read as one.

## What happened next

Investigations found that the children had not been referred and described as the paper said, and
that its author had undeclared interests. The journal retracted the paper in February 2010.

## What the evidence shows

Large studies since then find no association between MMR vaccination and autism. A Danish cohort of
more than 650,000 children followed for about ten years found no raised risk, including in children
with autistic siblings [@hviid2019].
"""

RETRACTION_DEMO_PATIENT = """\
> **Demo article.** This sample shows how the site warns about a withdrawn study. It is not medical
> advice.

## The old study

In 1998 a journal printed a small study of 12 children [@wakefield1998]. Some people read it as
saying that the MMR shot causes autism. It did not show that.

## Why it was taken back

Checks found that the study was not done the way it said. The journal took it back in 2010. This is
called a retraction.

## What we know now

Much larger studies found no link between the MMR shot and autism. One study in Denmark looked at
more than 650,000 children. Children who got the shot were no more likely to have autism [@hviid2019].
"""

ARTICLES: list[dict[str, Any]] = [
    {
        "slug": "continue-dupilumab-despite-persistent-cough",
        "title": (
            "Should I keep taking Dupixent (dupilumab) for severe asthma if my cough and mucus continue "
            "while my nose is being treated?"
        ),
        "kind": "qa",
        "topic": "Asthma",
        "references": [
            "irwin2018",
            "holguin2020",
            "dupixentpi",
            "wenzel2013",
            "castro2018",
            "rabe2018",
            "wechsler2022",
            "bachert2019",
            "chung2014",
        ],
        "variants": {
            "clinician": {
                "title": "Continue dupilumab while the upper-airway component is treated",
                "summary": (
                    "Yes. Continue dupilumab while the nasal and sinus component is optimised. Residual "
                    "cough and sputum in a patient whose exacerbations and lung function have improved "
                    "more often reflect uncontrolled upper-airway disease than biologic failure. "
                    "Reassess after 4 to 8 weeks of adequate nasal treatment."
                ),
                "body": QA_BODY_CLINICIAN,
            },
            "patient": {
                "title": "Should you keep taking Dupixent if you still cough?",
                "summary": (
                    "Yes, keep taking Dupixent while your doctor treats your nose. Your cough may come "
                    "from your nose and sinuses, not from your asthma. Give the nose treatment a few "
                    "weeks to work. Then talk with your doctor again."
                ),
                "body": QA_BODY_PATIENT,
            },
        },
    },
    {
        "slug": "why-asthma-returns-after-biologics",
        "title": "Why severe asthma can return even after successful biologic treatment",
        "kind": "news",
        "topic": "Asthma",
        "references": ["castro2018", "wechsler2022"],
        "variants": {
            "clinician": {
                "title": "Biologics control severe asthma but may leave inflammatory cells in place",
                "summary": (
                    "A 40-patient study from Karolinska Institutet found that inflammatory immune cells in "
                    "blood rose during mepolizumab or dupilumab treatment even as symptoms improved, "
                    "which may explain relapse after withdrawal."
                ),
                "body": NEWS_BODY_CLINICIAN,
            },
            "patient": {
                "title": "Why asthma may come back after biologic medicines stop",
                "summary": (
                    "Biologic medicines help people with severe asthma breathe better. A new study found "
                    "they may not remove the cells that cause the problem. So asthma may come back if "
                    "treatment stops."
                ),
                "body": NEWS_BODY_PATIENT,
            },
        },
    },
    {
        "slug": "demo-retracted-mmr-study",
        "title": "Demo: how a retracted study is flagged (the 1998 MMR paper)",
        "kind": "news",
        "topic": "Vaccines",
        "references": ["wakefield1998", "hviid2019"],
        "variants": {
            "clinician": {
                "title": "Demo: the 1998 Lancet MMR paper and its retraction",
                "summary": (
                    "Demo article for the citation watch. The 1998 Lancet case series linking MMR vaccination "
                    "with developmental disorder was retracted in 2010; large cohort studies find no association."
                ),
                "body": RETRACTION_DEMO_CLINICIAN,
            },
            "patient": {
                "title": "Demo: a study about the MMR shot was taken back",
                "summary": (
                    "This is a demo article. A small 1998 study was taken back by its journal in 2010. "
                    "Big studies show the MMR shot does not cause autism."
                ),
                "body": RETRACTION_DEMO_PATIENT,
            },
        },
    },
]
