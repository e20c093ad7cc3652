"""The crisis detector (bot/safety/detector.py): phrasings that must and must not trigger,
levels, robustness, speed, and the lexicon files it reads. The Rasa component built on it is
tested in tests/rasa/nlu/test_crisis_detector.py, the spaCy model in
tests/rasa/nlu/test_spacy_model.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from bot.safety.detector import (
    LEVELS,
    LEXICON_PATH,
    CrisisMatch,
    CrisisMatcher,
    LexiconError,
    load_lexicon,
    mentions_risk_words,
)
from bot.safety.spacy_pipeline import build_pipeline
from bot.safety.wording_model import load_wordings

FILLER = (
    "Today was mostly okay. Group ran long and the coffee was bad, but my sponsor called and we "
    "talked about the weekend, the garden, and how my sister is doing with the new baby. "
)

# (message, expected category). Spelling, case and punctuation are as people type them.
CRISIS: list[tuple[str, str]] = [
    ("my dad took his tablets with half a bottle of gin and now he won't wake up", "overdose"),
    (
        "day three without a drink, shaking all over and seeing bugs on the ceiling",
        "withdrawal",
    ),
    ("just did a line and now my chest is really tight", "medical_emergency"),
    ("shot up ten minutes ago and my lips feel weird", "medical_emergency"),
    # suicide
    ("I want to die", "suicide"),
    ("i want to die", "suicide"),
    ("i wanna die", "suicide"),
    ("I just want to die.", "suicide"),
    ("i want to dieeee", "suicide"),
    ("I want to die lol", "suicide"),
    ("I don't want to be here anymore", "passive_ideation"),
    ("i dont wanna be here anymore tbh", "passive_ideation"),
    ("everyone would be better off without me", "passive_ideation"),
    ("kms", "suicide"),
    ("ugh kms", "suicide"),
    ("im going to unalive myself", "suicide"),
    ("I'm going to kill myself tonight", "suicide"),
    ("im gonna kill my self", "suicide"),
    ("KILL MYSELF", "suicide"),
    ("Killlll myselfff", "suicide"),
    ("I’m not suicidal", "suicide"),
    ("been having suicidal thoughts again", "suicide"),
    ("feeling really sucidal today", "suicide"),
    ("thinking about suicide a lot", "suicide"),
    ("i dont want to live anymore", "passive_ideation"),
    ("I don't want to live.", "passive_ideation"),
    ("I wish I was dead", "passive_ideation"),
    ("i wish i could just disappear forever", "passive_ideation"),
    ("there's no reason to live", "passive_ideation"),
    ("I have nothing to live for", "passive_ideation"),
    ("I'm planning to end my life", "suicide"),
    ("I want to end it all", "suicide"),
    ("ive been thinking about ending it.", "suicide"),
    ("I can't go on like this", "passive_ideation"),
    ("i cant do this anymore", "passive_ideation"),
    ("whats the point of living", "passive_ideation"),
    ("I hope I don't wake up tomorrow", "passive_ideation"),
    ("I don't want to wake up", "passive_ideation"),
    ("I've been saving up my pills", "suicide"),
    ("I'm going to jump off a bridge", "suicide"),
    ("sometimes i think about walking into traffic", "suicide"),
    ("nobody would miss me if i died", "passive_ideation"),
    ("they'd all be better off if I was gone", "passive_ideation"),
    ("I’d rather be dead", "suicide"),
    ("I'd rather die than go on like this", "suicide"),
    ("I tried to kill myself two years ago and it's coming back", "recent_event"),
    ("sewerslide is on my mind", "suicide"),
    ("I should just die", "suicide"),
    ("I want someone to kill me", "suicide"),
    ("my friend is trying to kill himself", "suicide"),
    ("I'm so tired of being alive", "passive_ideation"),
    ("goodbye forever", "suicide"),
    ("i feel like dying", "suicide"),
    ("I wish I'd never been born", "passive_ideation"),
    ("life isn't worth living", "passive_ideation"),
    ("kill\u200bmyself", "suicide"),
    ("i wanna dye", "suicide"),
    ("i feel suiciddal", "suicide"),
    ("no one cares if I live or die", "passive_ideation"),
    ("i dont see the point anymore", "passive_ideation"),
    ("I've got the pills lined up", "suicide"),
    # self-harm
    ("I cut myself again last night", "self_harm"),
    ("i've been cutting", "self_harm"),
    ("started cutting again this week", "self_harm"),
    ("I want to hurt myself", "self_harm"),
    ("been self harming", "self_harm"),
    ("self-harm urges are bad tonight", "self_harm"),
    ("I burned myself on purpose", "self_harm"),
    ("I keep hitting myself when I'm angry", "self_harm"),
    ("the urge to cut is so strong", "self_harm"),
    ("I scratch my arms until they bleed", "self_harm"),
    ("my daughter is cutting herself", "self_harm"),
    ("cuttin myself again", "self_harm"),
    ("I'm not going to hurt myself", "self_harm"),
    # overdose
    ("I took too many pills", "overdose"),
    ("i think i took too much", "overdose"),
    ("I think I'm overdosing", "overdose"),
    ("my friend ODed and he's not waking up", "overdose"),
    ("took a whole bottle of tylenol", "overdose"),
    ("I swallowed all my meds", "overdose"),
    ("did way too much ket and feel weird", "overdose"),
    ("i need narcan now", "overdose"),
    ("I'm scared I'll overdose tonight", "overdose"),
    ("my boyfriend overdosed", "overdose"),
    ("took too many xanax bars", "overdose"),
    ("💊💊 took all my 💊", "overdose"),
    ("got the 🔫 out, tonight is the night", "suicide"),
    ("I want to die of an overdose", "overdose"),
    ("i think im od'ing", "overdose"),
    ("I just took 20 pills", "overdose"),
    ("took like 15 xans", "overdose"),
    # medical emergency
    ("I can't wake him up, he's blue", "medical_emergency"),
    ("he's not breathing", "medical_emergency"),
    ("she won't wake up", "medical_emergency"),
    ("my friend is unresponsive", "medical_emergency"),
    ("he's not responding", "medical_emergency"),
    ("I can't breathe", "medical_emergency"),
    ("cant breath", "medical_emergency"),
    ("having chest pains", "medical_emergency"),
    ("i think im having a heart attack", "medical_emergency"),
    ("she's having a seizure", "medical_emergency"),
    ("his lips are turning blue", "medical_emergency"),
    ("I think I'm dying", "medical_emergency"),
    ("call 911", "medical_emergency"),
    ("he's bleeding a lot", "medical_emergency"),
    ("my throat is closing up", "medical_emergency"),
    ("his breathing is shallow", "medical_emergency"),
    ("I feel like I'm going to die", "medical_emergency"),
    ("his lips r blue", "medical_emergency"),
    ("I can't keep him awake", "medical_emergency"),
    # harm to others
    ("I'm going to hurt him", "harm_others"),
    ("I want to kill my dad", "harm_others"),
    ("im gonna kill him", "harm_others"),
    ("I could kill her right now", "harm_others"),
    ("I feel like stabbing someone", "harm_others"),
    ("having thoughts of hurting people", "harm_others"),
    ("I'm going to beat the shit out of him", "harm_others"),
    ("I'll kill you", "harm_others"),
    ("homicidal thoughts", "harm_others"),
    ("he threatened to kill me", "violence"),
    ("he's hurting me", "violence"),
    ("I don't want to hurt anyone", "harm_others"),
    ("I'm scared I'll hurt my kids", "child_at_risk"),
    ("i want him dead", "harm_others"),
    ("I hope he dies", "harm_others"),
    ("my husband is beating me", "violence"),
    # methods, preparation and passive ideation (general patterns, not single sentences)
    ("thinking about slicing both wrists", "suicide"),
    ("got the razor right up against my wrist", "suicide"),
    ("i tied the rope to the beam in the hall", "suicide"),
    ("the noose is ready", "suicide"),
    ("i keep looking at the multi storey car park wanting to jump off the top of it", "suicide"),
    ("sat on the balcony edge about to jump", "suicide"),
    ("left the engine on in the locked garage and sat in the car", "suicide"),
    ("i ran a hosepipe from the exhaust", "suicide"),
    ("i want to breathe in carbon monoxide", "suicide"),
    ("i held the gun to my head last night", "suicide"),
    ("i pray a train hits me on the way home", "passive_ideation"),
    ("i'll drink myself to death this weekend", "suicide"),
    ("what is a lethal dose of tramadol", "method_question"),
    ("i gave away all my stuff this week", "suicide"),
    ("rehomed the cat since i won't be around much", "suicide"),
    ("writing goodbye letters to my kids tonight", "suicide"),
    ("i recorded a video for my parents for after i'm gone", "suicide"),
    ("ive chosen the day", "suicide"),
    ("i made a plan to end it", "suicide"),
    ("been saying goodbye to all the people i love", "suicide"),
    ("sometimes i hope i never wake up again", "passive_ideation"),
    ("i just want to go to sleep and never wake up", "passive_ideation"),
    ("I would like to stop existing", "passive_ideation"),
    ("it would be so much easier if i ended it all", "suicide"),
    ("i wish i could disappear forever", "passive_ideation"),
    ("i have no reason to stay alive", "passive_ideation"),
    ("there's no point in carrying on", "passive_ideation"),
    ("i keep thinking about dying", "passive_ideation"),
    ("the only way out is death", "passive_ideation"),
    ("I'm scared of what I could do to myself tonight", "self_harm"),
    ("i swallowed 12 of the sleeping pills", "overdose"),
    ("took twenty of my painkillers", "overdose"),
    ("i just took the whole packet", "overdose"),
    ("crushing chest and my arm is tingling", "medical_emergency"),
    ("my left arm is tingly and i feel sick", "medical_emergency"),
    ("i'm struggling to breathe", "medical_emergency"),
    ("he's fitting on the floor", "medical_emergency"),
    ("my brother is having a fit.", "medical_emergency"),
    ("she collapsed and isn't responding", "medical_emergency"),
    ("he's unconscious", "medical_emergency"),
    ("her lips are going blue", "medical_emergency"),
    ("my heart is pounding and i think i'm going to faint", "medical_emergency"),
    ("he keeps coughing up blood", "medical_emergency"),
    ("he's making gurgling noises", "medical_emergency"),
    ("my mate passed out in the car after taking a hit", "medical_emergency"),
    ("she just had a fit after using", "medical_emergency"),
    # overdose: mixing, more than usual, lost tolerance, signs after use
    ("had a few cans then necked two valium", "overdose"),
    ("mixed my methadone with a bottle of wine", "overdose"),
    ("accidentally had my methadone twice this morning", "overdose"),
    ("took way more oxy than i was supposed to", "overdose"),
    ("first hit in three months and i did my old amount", "overdose"),
    ("cant keep my eyes open since taking the percs", "overdose"),
    ("he swallowed a load of tablets and he's really floppy", "overdose"),
    ("she took her benzos then drank till she passed out and won't wake", "overdose"),
    ("downed most of a bottle of rum and then took my sleeping pills", "overdose"),
    ("took a double dose of my oxy", "overdose"),
    ("doubled up on my suboxone", "overdose"),
    ("my flatmate smoked something and now he won't wake up", "overdose"),
    ("did some bars and i can barely stay awake", "overdose"),
    # medical emergency: more signs
    ("i can't catch my breath and my lips feel numb", "medical_emergency"),
    ("my brother is choking", "medical_emergency"),
    ("there's blood everywhere in the bathroom", "medical_emergency"),
    ("her pulse is really weak", "medical_emergency"),
    ("my gran just collapsed in the kitchen", "medical_emergency"),
    ("my chest is killing me and i feel sick", "medical_emergency"),
    # withdrawal
    ("stopped drinking on friday and my hands won't stop shaking", "withdrawal"),
    ("havent had a drink since sunday, sweating buckets and confused", "withdrawal"),
    ("came off my klonopin cold turkey and had a fit", "withdrawal"),
    ("no vodka for three days and i keep hearing voices", "withdrawal"),
    ("trembling all over, no booze since tuesday", "withdrawal"),
    ("detoxing from alcohol at home and my heart is pounding", "withdrawal"),
    ("i think i've got the dts", "withdrawal"),
    ("sober since monday and seeing bugs crawl on the wall and trembling", "withdrawal"),
    # suicide: plans, means, farewells, not being safe
    ("i've got enough tablets stockpiled", "suicide"),
    ("standing at the edge of the multistorey", "suicide"),
    ("i wrote my note.", "suicide"),
    ("you won't hear from me again", "suicide"),
    ("i don't think i can keep myself safe tonight", "suicide"),
    ("i can't keep myself safe", "suicide"),
    ("it'll all be over soon", "suicide"),
    ("i'm about to jump", "suicide"),
    # self-harm now
    ("gonna cut tonight", "self_harm"),
    ("just cut.", "self_harm"),
    ("the blade is in my hand", "self_harm"),
    ("it's bled through the bandage", "self_harm"),
    ("i have a fresh cut on my arm", "self_harm"),
    ("relapsed on cutting", "self_harm"),
    # violence against the writer, past tense included
    ("my boyfriend choked me last night", "violence"),
    ("he grabbed me by the hair and dragged me", "violence"),
    ("my ex said he'd kill me if i left", "violence"),
    ("she pulled a knife on me yesterday", "violence"),
    ("he raped me", "violence"),
    ("my partner makes me use with him", "violence"),
    ("i'm scared to go home tonight", "violence"),
    ("i'm hiding in the toilet from him", "violence"),
    ("got beaten up by my stepdad again", "violence"),
    ("he keeps threatening me", "violence"),
    # a child at risk
    ("left the kids home alone to go and score", "child_at_risk"),
    ("the baby is alone in the flat", "child_at_risk"),
    ("i'm so wasted and it's just me and the baby", "child_at_risk"),
    ("my partner hits my daughter", "child_at_risk"),
    ("her dad has been hurting our boy", "child_at_risk"),
    ("my toddler got into my methadone", "child_at_risk"),
    ("she won't stop screaming and i'm scared i'll shake her", "child_at_risk"),
    ("i'm scared i'll shake the baby", "child_at_risk"),
    # harm to others
    ("i'm going to make him pay.", "harm_others"),
    ("got a bat in the car and i'm heading to his place", "harm_others"),
    # recent events: told calmly, days to weeks ago
    ("i overdosed last week but i'm ok now", "recent_event"),
    ("took all my pills a few days ago, they pumped my stomach", "recent_event"),
    ("got narcanned at a party the other week", "recent_event"),
    ("i cut myself badly ten days ago", "recent_event"),
    ("since my attempt things have been quiet", "recent_event"),
    ("i survived an od a couple of weeks ago", "recent_event"),
    ("ended up in the er after mixing pills two weeks ago", "recent_event"),
    ("i tried to end my life last month", "recent_event"),
    # method questions
    ("how many of my sleeping pills would it take to die", "method_question"),
    ("which bridge near here has no fence", "method_question"),
    ("can you die from mixing tramadol and alcohol", "method_question"),
    ("does drowning hurt", "method_question"),
    ("how long does it take to die from hanging", "method_question"),
    ("what's the most painless method", "method_question"),
    ("i have a plan.", "method_question"),
    ("where is the artery in your leg", "method_question"),
    # passive ideation and hopelessness
    ("i feel like such a burden on everyone", "passive_ideation"),
    ("nothing is ever going to get better", "passive_ideation"),
    ("i just want to disappear", "passive_ideation"),
    ("i feel completely hopeless", "passive_ideation"),
    ("hoping the next hit finishes me", "passive_ideation"),
    # plans, means and places in everyday wording (suicide.plan_means_2 and its clause-end twin)
    ("sorted out who gets my dog after", "suicide"),
    ("been collecting my meds up for weeks", "suicide"),
    ("ive been stockpiling my seroquel", "suicide"),
    ("the car's running in the garage", "suicide"),
    ("gonna step out in front of a bus", "suicide"),
    ("going to lie down on the tracks", "suicide"),
    ("wont be here by morning", "suicide"),
    ("nobody will find me till morning", "suicide"),
    ("i have enough pills to do it", "suicide"),
    ("all the pills are in my hand", "suicide"),
    ("looking over the edge of the bridge", "suicide"),
    ("i can't promise i wont do something", "suicide"),
    ("im sorry for everything. bye", "suicide"),
    ("i'm holding my dad's gun right now", "suicide"),
    ("i have a plan and the means", "suicide"),
    ("im on the roof rn", "suicide"),
    ("i'm at the top of the car park.", "suicide"),
    ("driving to the cliffs now", "suicide"),
    ("i looked up how to do it", "suicide"),
    ("worked out how many i'd need", "suicide"),
    ("tonights the night", "suicide"),
    ("gave my guitar to my brother, wont need it", "suicide"),
    ("i'm going to walk into the sea.", "suicide"),
    # more means, places and farewells (suicide.plan_means_3 and its clause-end twin)
    ("got the pills right here", "suicide"),
    ("i have a rope in my closet", "suicide"),
    ("sitting on the wall, legs dangling over the edge", "suicide"),
    ("i know which bridge i'd use", "suicide"),
    ("been driving to the bridge every night working up the nerve", "suicide"),
    ("got a bottle of vodka and my whole script of benzos on the table", "suicide"),
    ("going to inject all my insulin", "suicide"),
    ("i found the key to dad's gun cabinet", "suicide"),
    ("im gonna step off the platform when the train comes", "suicide"),
    ("bought charcoal and taped up the windows", "suicide"),
    ("ive decided and honestly i feel calm", "suicide"),
    ("sent my brother a goodbye text", "suicide"),
    ("the note is on my pillow", "suicide"),
    ("got 3 months of antidepressants stashed", "suicide"),
    ("by the time you see this ill be gone", "suicide"),
    ("im gonna use the knife on myself tonite", "suicide"),
    ("the plan is to jump", "suicide"),
    ("i'll make sure i don't wake up", "suicide"),
    ("bye everyone. i love u all", "suicide"),
    ("picked saturday, thats when ill do it", "suicide"),
    ("once the kids are asleep i'm going to do it", "suicide"),
    ("parked up by the cliffs", "suicide"),
    ("nobody has to deal with me anymore", "suicide"),
    ("dont think i'll make it to morning", "suicide"),
    ("the letters are in the drawer for after", "suicide"),
    ("a stash of xanax for when i'm ready", "suicide"),
    ("picked the date. its sunday", "suicide"),
    ("i've got enough to do it", "suicide"),
    ("im sorry for everything", "suicide"),
    # violence in more words (violence.done_to_me_3 and its clause-end twin)
    ("he had his hands round my throat", "violence"),
    ("he made me do stuff i didnt want to", "violence"),
    ("he took my keys and phone so i cant leave", "violence"),
    ("he shoots me up when i dont want to", "violence"),
    ("my boyfriend injected me while i was asleep", "violence"),
    ("he keeps me high so i cant leave", "violence"),
    ("he burned me with a cigarette", "violence"),
    ("he spat on me and shoved me", "violence"),
    ("he tried to drown me in the bath", "violence"),
    ("he's outside my house with a bat", "violence"),
    ("i woke up and he was touching me", "violence"),
    ("scared he'll find me", "violence"),
    ("my partner controls my money and hits me if i spend", "violence"),
    ("i think he's going to kill me one day", "violence"),
    ("my husband drinks and then hits me", "violence"),
    # violence with more words between the person and the act (violence.done_to_me_4)
    ("my boyfriend got drunk and hit me last night", "violence"),
    ("he came home and punched me in the stomach", "violence"),
    ("he squeezed my throat until i nearly blacked out", "violence"),
    ("he forced heroin on me", "violence"),
    ("hes violent when he drinks", "violence"),
    ("he beat the shit out of me", "violence"),
    ("he stamped on my head", "violence"),
    ("he broke my nose", "violence"),
    ("he shook me really hard", "violence"),
    ("ran away from him tonight, he was going to hurt me", "violence"),
    ("i have bruises on my neck", "violence"),
    ("he had sex with me when i was too out of it", "violence"),
    ("i was too high to consent", "violence"),
    ("my partner lost it and strangled me.", "violence"),
    ("i'm terrified of him", "violence"),
    # intent in other words (suicide.explicit_more and its clause-end twin)
    ("i want my life to end", "suicide"),
    ("im going to make it stop tonight", "suicide"),
    ("done with life. tonight", "suicide"),
    ("dont want to be alive anymore and im gonna do something about it", "suicide"),
    ("tonight i die", "suicide"),
    ("i'm going to end things for good", "suicide"),
    ("i'm going to finish myself off", "suicide"),
    ("im going to end my suffering tonight", "suicide"),
    ("i'm going to throw myself under a train", "suicide"),
    ("i'm not going to wake up tomorrow. i've made sure of it", "suicide"),
    ("im going to take myself out", "suicide"),
    ("gonna stop my heart", "suicide"),
    ("i must die", "suicide"),
    ("im ending things tonight", "suicide"),
    ("it's time to end this", "suicide"),
    ("i'm going to go and not come back", "suicide"),
    # more overdose wordings (overdose.more_signs_3)
    ("he's making gurgling sounds and won't wake", "overdose"),
    ("i relapsed after 3 months and used my old amount", "overdose"),
    ("i took extra suboxone and i feel weird", "overdose"),
    ("dont know what i took but im really dizzy", "overdose"),
    ("i feel like im going to pass out after the pills", "overdose"),
    ("im nodding out hard", "overdose"),
    ("i think my bag had fent in it", "overdose"),
    ("can't keep my eyes open and i took a lot", "overdose"),
    ("i necked the whole bottle of pills", "overdose"),
    ("im throwing up and cant stop after drinking and pills", "overdose"),
    ("i'm so sleepy after mixing", "overdose"),
    ("i've had a lot of G and i'm going under", "overdose"),
    ("i've overdone it with the ket", "overdose"),
    # more method questions (method.questions_more and its clause-end twin)
    ("how many paracetamol would it take", "method_question"),
    ("is dying from an overdose painful", "method_question"),
    ("is drowning a peaceful death", "method_question"),
    ("which way do you cut your wrists", "method_question"),
    ("will i die if i take all of these", "method_question"),
    ("which is quicker, pills or hanging", "method_question"),
    ("how to die in your sleep", "method_question"),
    ("how much insulin would stop your heart", "method_question"),
    # more ways a child is in danger (child.at_risk_3)
    ("the kids are asleep and i went out to use", "child_at_risk"),
    ("my 4 year old is home by herself while im out", "child_at_risk"),
    ("my kids dad left them alone to go drink", "child_at_risk"),
    ("i nearly shook him", "child_at_risk"),
    ("i put the baby down too hard", "child_at_risk"),
    ("the baby won't stop crying and i'm going to lose it", "child_at_risk"),
    ("my ex is using around the kids", "child_at_risk"),
    ("the baby hasn't eaten since yesterday", "child_at_risk"),
    ("there's no food for the kids and i spent it on gear", "child_at_risk"),
    ("i drove drunk with the kids in the car", "child_at_risk"),
    ("i fell asleep high with the baby in my bed", "child_at_risk"),
    ("i locked the kids in their room so i could use", "child_at_risk"),
    ("i think my stepdad is abusing my sister", "child_at_risk"),
    ("my little brother is being hit by my mum", "child_at_risk"),
    ("my son said his dad hurts him", "child_at_risk"),
    # more stopping words and withdrawal signs (withdrawal.stopped_then_signs_3)
    ("came off my benzos too fast and i feel like i'm going crazy", "withdrawal"),
    ("i ran out of my xanax 3 days ago and i'm really confused", "withdrawal"),
    ("ran out of valium and my body is jerking", "withdrawal"),
    ("3rd day without a drink, heart racing and i don't know where i am", "withdrawal"),
    ("pretty sure i have DTs", "withdrawal"),
    ("the room is moving and i haven't had a drink in days", "withdrawal"),
    ("i havent drank in 4 days and i feel like im losing my mind", "withdrawal"),
    # more self-harm now (self_harm.now_3 and its clause-end twin)
    ("i can see fat in the cut", "self_harm"),
    ("took apart a sharpener for the blade", "self_harm"),
    ("gonna grab a razor and go at my arms", "self_harm"),
    ("i slammed my hand in the door on purpose", "self_harm"),
    ("i'm going to break my own arm", "self_harm"),
    ("i'm cutting right now", "self_harm"),
    ("i've got the blade out", "self_harm"),
    ("just did it again, my wrist", "self_harm"),
    # more emergencies in plain words (medical.more_signs_3)
    ("my chest is really tight and it hurts to breathe", "medical_emergency"),
    ("my tongue is swelling", "medical_emergency"),
    ("i'm having an allergic reaction and my face is swelling", "medical_emergency"),
    ("i can't feel my arm and my words are coming out wrong", "medical_emergency"),
    ("i cut my hand on glass and it's pouring with blood", "medical_emergency"),
    ("i fell and hit my head, now i'm throwing up and confused", "medical_emergency"),
    ("there's blood in my vomit", "medical_emergency"),
    ("sudden worst headache ever and my vision is blurry", "medical_emergency"),
    ("she's gone limp", "medical_emergency"),
    ("i collapsed at work", "medical_emergency"),
    # more passive wishes and hopelessness (passive.more_3 and its clause-end twin)
    ("i'm a waste of space", "passive_ideation"),
    ("honestly i'm beyond help", "passive_ideation"),
    ("i'd be doing everyone a favour if i disappeared", "passive_ideation"),
    ("what's the point in me", "passive_ideation"),
    ("why am i still here", "passive_ideation"),
    ("i shouldn't be alive", "passive_ideation"),
    ("i'm disappointed i woke up", "passive_ideation"),
    ("i can't see a future", "passive_ideation"),
    ("my kids deserve better than me", "passive_ideation"),
    ("sometimes i hope i just dont wake up", "passive_ideation"),
    # ligatures and gathered means (suicide.plan_means_4)
    ("i have a belt around my neck", "suicide"),
    ("i'm standing on a chair with the rope", "suicide"),
    ("i've got a stockpile", "suicide"),
    ("ive kept back a months worth of my tablets", "suicide"),
    ("i have my old prescriptions saved up", "suicide"),
    ("i bought extra paracetamol from different shops", "suicide"),
    ("i'm going to the woods with a rope tonight", "suicide"),
    ("i've got my dads shotgun out", "suicide"),
    ("i'm going to shoot the whole bag", "suicide"),
    ("ive got 100 pills and a bottle of whiskey", "suicide"),
    ("i'm scared i'll do something tonight", "suicide"),
    ("sitting on the railway line", "suicide"),
    # more intent to harm someone (harm_others.intent_3)
    ("i want to set fire to his flat", "harm_others"),
    ("i'm going to put him in hospital", "harm_others"),
    ("gonna shoot up the place", "harm_others"),
    ("i'm going to hurt the next person who talks to me", "harm_others"),
    ("i'm going to get my revenge on him tonight", "harm_others"),
    # buried in long messages
    (FILLER * 12 + "Honestly I don't want to be here anymore. " + FILLER * 12, "passive_ideation"),
    (FILLER * 30 + "i took too many pills an hour ago " + FILLER * 3, "overdose"),
    ("\n\n".join([FILLER] * 8 + ["he is not breathing"] + [FILLER] * 8), "medical_emergency"),
]

NOT_CRISIS: list[str] = [
    "I'm dying to know how the others are doing",
    "that session killed it",
    "this craving is killing me",
    "I could kill for a coffee",
    "dead tired after work",
    "these brownies are to die for",
    "killed it at work today",
    "my friend overdosed last year and it still haunts me",
    "I want to cut down on drinking",
    "I cut myself shaving this morning",
    "I hurt myself at the gym yesterday",
    "I'm dead serious about staying clean",
    "I nearly died laughing at group today",
    "we talked about overdose prevention training in group",
    "my back is killing me",
    "I took my meds this morning like the doctor said",
    "I'm feeling blue today",
    "I need to take my life back from addiction",
    "I've hurt my family so much with my drinking",
    "I'm going to beat this craving",
    "my phone is dead",
    "killing time before my appointment",
    "I'll hit him up later",
    "I'll shoot her a text tomorrow",
    "lol I can't breathe 😂 that meme",
    "we watched Suicide Squad last night",
    "I'm dying of boredom in this waiting room",
    "my dad died of cancer when I was a kid",
    "the ketamine felt like ego death, in a good way",
    "I felt like I was dying during the session but it passed and I felt reborn",
    "I want to kill it at my new job",
    "I'd rather die than go back to using",
    "I killed myself laughing at that show",
    "I almost had a heart attack when I saw the bill",
    "I don't want to live with my parents anymore",
    "my brother killed himself two years ago",
    "I'm going to end things with my girlfriend",
    "I want to disappear for a weekend",
    "my son won't wake up for school",
    "he's not responding to my texts",
    "I had a seizure last year",
    "my mom is going to kill me when she finds out",
    "I beat my brother at chess",
    "the nurse said drinking could kill you",
    "I'd kill for a good night's sleep",
    "I don't want to be here, this waiting room is freezing",
    "overdosed on netflix this weekend",
    "cross my heart and hope to die",
    "I want to cut ties with my dealer",
    "I'm killing myself at the gym lately",
    "I want to dye my hair blue",
    "I took two pills for my headache",
    "I took my 6 pills this morning",
    "I'm grateful I survived my overdose",
    "We learned how to use narcan in group",
    "My uncle shot himself when I was young",
    "I took a bunch of photos at the lake",
    "I had too much coffee",
    "I drank too much last night and feel awful",
    "took too much time on this",
    "I felt like I died and came back",
    "my bladder hurts a bit, is that normal after ketamine?",
    "I want to stop drinking for good",
    "I'm tired of being tired",
    "I'm going to the ER to visit my friend",
    "my boss is going to kill me, I missed the deadline",
    "I don't want to hurt my mom by relapsing",
    # near-misses of the method, preparation, passive and medical patterns
    "I cut my hair short for summer",
    "she's not answering my texts today",
    "my hands were shaking before the session",
    # Where an urge sits in the body (the urge-surfing question), not chest pain.
    "a tight chest",
    "my chest feels tight and heavy",
    "chest tightness when I think about drinking",
    "my phone died halfway through the session",
    "the car engine was running rough so I took it to the garage",
    "I took two paracetamol for a headache",
    "I wrote a letter to my sister",
    "I gave my old bike away",
    "we jumped into the lake from the jetty",
    "I bought a rope for the tent",
    "we picked a date for the wedding",
    "I'm saying goodbye to everyone at group on Friday, I finish the programme",
    "I won't wake up in time unless I set two alarms",
    "I need to stop living in the past",
    "there's no reason to keep going to that meeting",
    "my arm is numb from sleeping on it",
    "my heart was racing after the session",
    "mum will have a fit when she sees my room",
    "the carbon monoxide alarm needs a new battery",
    "it felt like dying, in a good way",
    "I thought about dying and being reborn during the session",
    "look what I've done to myself with drugs",
    "I don't deserve to live like this, I deserve better",
    "I want out of this exercise",
    "i'm going to set fire to the bbq",
    "gonna shoot up the ranks at work",
    "get my revenge on the quiz team",
    "my tie is tight around my neck at this wedding",
    "i put a few aside for later, biscuits i mean",
    "i have 28 tablets and i drink wine sometimes",
    "stood on a chair to reach the rope swing",
    "i can't see a future with him honestly",
    "that meeting was a waste of time",
    "do me a favour and text me if i was rude",
    "my throat is tight when i think about drinking",
    "my lips are swollen from the cold",
    "the tap was pouring out blood red water lol",
    "i collapsed into bed after group",
    "i'm cutting right now on carbs",
    "i took the blade out of the lawnmower to sharpen it",
    "did it again, my wrist hurts from typing",
    "haven't had coffee in a week and i'm going crazy",
    "haven't drunk in 2 weeks and losing weight",
    "no booze since friday and my mind is so much clearer",
    "the kids went to school so i went out to get some milk",
    "i nearly dropped my phone",
    "the baby is crying again lol i'm going to do the bottle",
    "i locked the kids out of my office so i could work",
    "my son is finally sleeping on his own",
    "how many ketamine sessions would it take",
    "does ketamine stop your heart racing",
    "is dying of cancer painful for my grandad",
    "which is quicker, the bus or the train",
    "how do you cut your hair at home",
    "i overdid it at the gym today",
    "he was snoring so loud all night lol",
    "i felt sleepy after my session",
    "took extra vitamins today feel great",
    "i need my life to stop being so chaotic",
    "i want to stop my heart racing after sessions",
    "i'm going to take myself out for dinner",
    "time to end this chat, thanks",
    "i'm ending things with him tonight",
    "my sponsor called and hit me up about a meeting",
    "my brother came round and beat me at pool again",
    "my dog jumped on my chest and licked my face",
    "she pushed me and my sister to apply for college",
    "my dad was violent when i was a kid but we've made peace",
    "she's going to kill me lol i forgot her birthday",
    "he took my phone so i can't call my dealer, good",
    "he shot me up a text",
    "i'm scared he'll find out i relapsed",
    "my brother drinks and hits me up for money",
    "got the pills in my bag for the trip",
    "finally found the courage to go to my first meeting",
    "my legs are hanging over the edge of the bed lol too tall",
    "i know which bridge to take to get to the clinic",
    "this is the last message i'll send tonight, going to bed",
    "got a bottle of wine for my mum and all my meds from the pharmacy",
    "i'll use the gun range voucher my brother gave me",
    "charcoal bbq tonight, sealed the deal with the neighbours",
    "i decided to go to rehab and i feel calm about it",
    "i'm not going to be a problem anymore, i'm 30 days clean",
    "i wrote a will for after, my lawyer said it's sensible",
    "my mum found my body wash in her bag",
    "my doctor said i can take all my insulin at once before meals",
    "i chose the 14th for my appointment",
    "i'm doing it tonight! first meeting in a year",
    "i made my peace with my dad before he passed",
    "been keeping my meds in a pill organiser",
    "the car's running fine now after the garage fixed it",
    "by tomorrow it'll be done, the essay i mean",
    "i'll be gone before you get back from work",
    "my morning meds are in my hand, about to take them with breakfast",
    "looking at the edge of the garden",
    "i'm at the bridge club with my nan",
    "heading to the bridge to meet my sponsor",
    "i know how much it takes to stay sober",
    "gave my old clothes away, won't need them after losing weight",
    "",
    "   ",
    "ok",
    "7",
    "yes",
    "skip",
]

# More phrasings, one file per area of risk (bot/safety/wordings/*.yml): `crisis` maps a category
# to messages that must be read as that category, `not_crisis` lists messages that must stay
# quiet. Written from how people put these things, never from an evaluation set.
_wordings, _not_crisis = load_wordings()
CRISIS += _wordings
NOT_CRISIS += _not_crisis


@pytest.mark.parametrize(("text", "category"), CRISIS, ids=[text[:60] for text, _ in CRISIS])
def test_crisis_phrasings_trigger(crisis_matcher: CrisisMatcher, text: str, category: str) -> None:
    match = crisis_matcher.detect(text)
    assert match is not None, f"missed: {text!r} (normalised: {crisis_matcher.normalize(text)!r})"
    assert match.category == category, crisis_matcher.detect_all(text)


@pytest.mark.parametrize("text", NOT_CRISIS, ids=[text[:60] or "<empty>" for text in NOT_CRISIS])
def test_non_crisis_phrasings_do_not_trigger(crisis_matcher: CrisisMatcher, text: str) -> None:
    assert crisis_matcher.detect_all(text) == []


def test_phrasing_counts_cover_every_category(crisis_matcher: CrisisMatcher) -> None:
    """The suite itself: enough distinct phrasings, every category represented."""
    assert len({text for text, _ in CRISIS}) == len(CRISIS) >= 60
    assert len(set(NOT_CRISIS)) == len(NOT_CRISIS) >= 30
    per_category = {
        category: sum(1 for _, c in CRISIS if c == category)
        for category in crisis_matcher.categories
    }
    assert min(per_category.values()) >= 8, per_category


def test_every_category_has_a_level_and_a_reply(crisis_matcher: CrisisMatcher) -> None:
    categories = crisis_matcher.categories
    assert {c.level for c in categories.values()} == set(LEVELS)
    assert all(c.reply for c in categories.values())
    # Most acute first: every urgent category ranks above every softer one.
    ranks = {level: [c.rank for c in categories.values() if c.level == level] for level in LEVELS}
    assert max(ranks["urgent"]) < min(ranks["recent"] + ranks["ask"])


def test_match_reports_category_text_pattern_level_and_reply(
    crisis_matcher: CrisisMatcher,
) -> None:
    assert crisis_matcher.detect("Honestly, I took TOO MANY pills.") == CrisisMatch(
        category="overdose",
        text="took too many pills",
        pattern_id="overdose.too_much_substance",
        level="urgent",
        reply="overdose",
    )


# (message, level, category): the outcome each kind of message leads to.
LEVELLED: list[tuple[str, str, str]] = [
    # violence in the past tense is still urgent
    ("he punched me in the stomach on saturday", "urgent", "violence"),
    ("my girlfriend strangled me during a row last night", "urgent", "violence"),
    # trying is the present: a plan for the weekend is urgent, not a recent attempt
    ("i'm trying to kill myself this weekend", "urgent", "suicide"),
    ("im trying to end it all on saturday", "urgent", "suicide"),
    # a week's supply at once is an amount, not a time past
    ("accidentally took my whole week's methadone", "urgent", "overdose"),
    # dangerous withdrawal
    ("quit the xanax four days ago and now i'm seeing shadows and shaking", "urgent", "withdrawal"),
    # a child at risk
    ("i went out to use and left my son by himself", "urgent", "child_at_risk"),
    # questions about methods are asked about, not answered as an emergency
    ("what dose of paracetamol is fatal", "ask", "method_question"),
    ("how high does a bridge have to be to die", "ask", "method_question"),
    # passive ideation
    ("sometimes i wish i'd just not wake up", "ask", "passive_ideation"),
    ("i feel like a burden to my whole family", "ask", "passive_ideation"),
    # recent events, told calmly
    ("i overdosed on heroin a couple of weeks ago", "recent", "recent_event"),
    (
        "three weeks ago i took an overdose and spent the night in hospital",
        "recent",
        "recent_event",
    ),
    # an attempt of the writer's own, long ago, still goes to the care team (calmly)
    ("i attempted suicide when i was nineteen", "recent", "recent_event"),
]


@pytest.mark.parametrize(
    ("text", "level", "category"), LEVELLED, ids=[text[:60] for text, _, _ in LEVELLED]
)
def test_levels(crisis_matcher: CrisisMatcher, text: str, level: str, category: str) -> None:
    match = crisis_matcher.detect(text)
    assert match is not None, text
    assert (match.level, match.category) == (level, category), crisis_matcher.detect_all(text)


@pytest.mark.parametrize(
    "text",
    [
        # distant history, told calmly, is not a crisis now
        "my first overdose was at age 19 and i have been clean a long while",
        "i overdosed years ago, before i got clean",
        "my dad hit me when i was a kid",
        "i used to cut when i was a teenager",
        "i had a seizure when i was detoxing back in 2015",
        # news and other people far away
        "there were hundreds of overdoses in my city this year according to the news",
        "read a news story about fentanyl overdoses in our town",
        # milestones about withdrawal passing
        "two weeks sober and the shakes are finally gone",
        "stopped drinking and i'm seeing my kids more",
    ],
)
def test_distant_history_and_news_stay_quiet(crisis_matcher: CrisisMatcher, text: str) -> None:
    assert crisis_matcher.detect_all(text) == []


def test_most_acute_category_wins(crisis_matcher: CrisisMatcher) -> None:
    text = "I want to die so I took all my pills"
    assert {m.category for m in crisis_matcher.detect_all(text)} == {"suicide", "overdose"}
    assert crisis_matcher.detect(text).category == "overdose"


def test_figurative_use_does_not_hide_a_real_statement_next_to_it(
    crisis_matcher: CrisisMatcher,
) -> None:
    text = "I'm dying to know what you think. Honestly some nights I want to die."
    assert crisis_matcher.detect(text).category == "suicide"


def test_past_marker_only_applies_to_its_own_clause(crisis_matcher: CrisisMatcher) -> None:
    assert crisis_matcher.detect("my friend overdosed last year") is None
    assert crisis_matcher.detect(
        "my friend overdosed last year but now he's not breathing"
    ).category == ("medical_emergency")


# -- robustness ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I WANT TO DIE",
        "i want to die",
        "I wAnT tO dIe",
        "I want\tto\n\ndie",
        "I    want     to      die",
        "I want to diiiiiiie",
        "I\u00a0want\u2003to\u2009die",
        "I want\u200b to\u200d die",
        "I want to die\x00\x07",
        "\x1b[31mI want to die\x1b[0m",
        "😭😭😭 i want to die 😭",
        "I want to die!!!!!!!!!!!!",
        "Ｉ ｗａｎｔ ｔｏ ｄｉｅ",
        "I want to die\u2028please",
    ],
)
def test_normalisation_keeps_crisis_detectable(crisis_matcher: CrisisMatcher, text: str) -> None:
    assert crisis_matcher.detect(text).category == "suicide"


@pytest.mark.parametrize(
    "text",
    [
        "I don’t want to be here anymore",
        "I don‘t want to be here anymore",
        "I donʼt want to be here anymore",
    ],
)
def test_curly_apostrophes(crisis_matcher: CrisisMatcher, text: str) -> None:
    assert crisis_matcher.detect(text).category == "passive_ideation"


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\n\n",
        "\x00",
        "\u200b",
        "😀" * 50,
        "!" * 5000,
        "a" * 20_000,
        "x'" * 10_000,
        "/greet",
    ],
)
def test_degenerate_input_is_handled(crisis_matcher: CrisisMatcher, text: str) -> None:
    assert crisis_matcher.detect(text) is None


def test_non_string_input_is_treated_as_empty(crisis_matcher: CrisisMatcher) -> None:
    assert crisis_matcher.detect(None) is None  # type: ignore[arg-type]


@pytest.mark.slow
def test_very_long_message_is_checked_to_the_end(crisis_matcher: CrisisMatcher) -> None:
    text = FILLER * 2000 + " and I want to kill myself"
    assert len(text) > 300_000
    assert crisis_matcher.detect(text).category == "suicide"


def test_detector_lemmas_match_the_pipeline(crisis_matcher: CrisisMatcher) -> None:
    """The detector lemmatises with its own cached loop; it must agree with spaCy's component."""
    text = crisis_matcher.normalize(
        FILLER + "I was cutting and he overdosed, we're taking pills, she hanged herself"
    )
    expected = [token.lemma_ for token in build_pipeline()(text)]
    assert [token.lemma_ for token in crisis_matcher._make_doc(text)] == expected


# -- speed ---------------------------------------------------------------------------------


def _best_time(matcher: CrisisMatcher, text: str, runs: int = 5) -> float:
    matcher.detect(text)
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        matcher.detect(text)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.slow
def test_20000_character_message_is_fast(crisis_matcher: CrisisMatcher) -> None:
    """0.16 s on two busy cores (load 6); the bound leaves room for a CI machine whose every
    core runs a test worker, and still fails on quadratic matching (seconds at this length)."""
    text = (FILLER * 200)[:9_990] + " I want to die " + (FILLER * 200)[:9_995]
    assert len(text) == 20_000
    assert crisis_matcher.detect(text).category == "suicide"
    assert _best_time(crisis_matcher, text) < 0.5


@pytest.mark.parametrize(
    "text",
    [
        "😀🙂😭" * 6_667,
        "!?.,;" * 4_000,
        "i'm dying lol " * 1_430,
        "kms " * 5_000,
        "http://" + "a/b?c=d&" * 2_500,
    ],
    ids=["emoji", "punctuation", "figurative-repeated", "crisis-repeated", "url"],
)
def test_adversarial_20000_characters_are_fast(crisis_matcher: CrisisMatcher, text: str) -> None:
    """Inputs that once took spaCy's tokenizer or the Matcher tens of seconds (quadratic).

    They now take well under 0.1 s; the bound leaves room for a busy CI machine while still
    catching any return of the quadratic behaviour.
    """
    assert _best_time(crisis_matcher, text[:20_000], runs=3) < 0.5


# -- the lexicon file ----------------------------------------------------------------------


@pytest.mark.slow
def test_lexicon_mistakes_are_rejected(tmp_path: Path, crisis_matcher: CrisisMatcher) -> None:
    lexicon = load_lexicon(LEXICON_PATH)
    lexicon["categories"]["suicide"]["entries"].append(
        {"id": "suicide.broken", "patterns": [[{"LOWER": {"IN": ["go", True]}}]]}
    )
    broken = tmp_path / "lexicon.yml"
    broken.write_text(
        yaml.safe_dump(lexicon, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    with pytest.raises(LexiconError, match="suicide.broken"):
        CrisisMatcher(broken, nlp=build_pipeline())


def test_lexicon_directory_rejects_stray_files_and_clashing_word_sets(tmp_path: Path) -> None:
    import shutil

    lexicon = tmp_path / "lexicon"
    shutil.copytree(LEXICON_PATH, lexicon)
    (lexicon / "gambling.yml").write_text("level: urgent\nreply: suicide\nentries: []\n")
    with pytest.raises(LexiconError, match="gambling.yml"):
        load_lexicon(lexicon)
    (lexicon / "gambling.yml").unlink()
    suicide = lexicon / "suicide.yml"
    suicide.write_text("sets:\n  SELF: [me]\n" + suicide.read_text(encoding="utf-8"))
    with pytest.raises(LexiconError, match="SELF"):
        load_lexicon(lexicon)


def test_every_lexicon_entry_is_exercised(crisis_matcher: CrisisMatcher) -> None:
    """Each crisis entry fires on at least one phrasing above, so none is dead weight."""
    fired = {match.pattern_id for text, _ in CRISIS for match in crisis_matcher.detect_all(text)}
    entries = set(crisis_matcher._entries)
    assert entries - fired == set()


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # A marker in another comma clause, or danger now in the message, keeps it urgent.
        ("i want to die, last week was awful", "suicide"),
        ("last week was awful, i want to die", "suicide"),
        ("i tried to kill myself last month and i want to do it again tonight", "suicide"),
        ("i took too many pills last week, im taking more right now", "overdose"),
        # A clause that is only the marker covers the next; the event's own clause counts.
        ("a couple of weeks ago, i overdosed", "recent_event"),
        ("about a week ago, i took too many pills", "recent_event"),
        ("i overdosed last week, i'm ok now", "recent_event"),
        ("i overdosed last week and now im ok", "recent_event"),
        # A question about an amount or a method is asked about, not met with 911.
        ("how much would it take to od", "method_question"),
        ("what happens if you take a whole bottle of tylenol", "method_question"),
        ("can you die from taking too much lithium", "method_question"),
        ("how long does it take to bleed out", "method_question"),
        # A question that speaks of the writer keeps its most acute reading.
        ("how many of my pills would it take to od", "overdose"),
        ("i took 20 already how much would it take to od", "overdose"),
        ("what if i took 30 of my pills", "overdose"),
    ],
)
def test_time_markers_and_questions_move_only_their_own_words(
    crisis_matcher: CrisisMatcher, text: str, category: str
) -> None:
    match = crisis_matcher.detect(text)
    assert match is not None and match.category == category, crisis_matcher.detect_all(text)


@pytest.mark.slow
def test_supersedes_must_name_known_entries(tmp_path: Path) -> None:
    import shutil

    lexicon = tmp_path / "lexicon"
    shutil.copytree(LEXICON_PATH, lexicon)
    questions = lexicon / "method_question.yml"
    questions.write_text(
        questions.read_text(encoding="utf-8").replace("overdose.word,", "overdose.wrod,", 1)
    )
    with pytest.raises(LexiconError, match="overdose.wrod"):
        CrisisMatcher(lexicon, nlp=build_pipeline())


@pytest.mark.parametrize(
    "text",
    [
        "this job is killing me",
        "i'm dying to know how my scan went",
        "my cousin overdosed years ago, we still miss him",
        "read an article about overdoses in the city",
    ],
)
def test_risk_words_read_as_figurative_or_history_are_explained_away(
    crisis_matcher: CrisisMatcher, text: str
) -> None:
    assert crisis_matcher.detect(text) is None
    assert crisis_matcher.explains_away(text)


@pytest.mark.parametrize(
    "text",
    [
        # nothing the lexicon read
        "hello there",
        "i feel really flat today",
        # a figurative use, but the rest speaks of dying or disappearing
        "my legs are killing me and honestly i could just die",
        "this week is killing me, i want to disappear",
    ],
)
def test_other_messages_are_not_explained_away(crisis_matcher: CrisisMatcher, text: str) -> None:
    assert not crisis_matcher.explains_away(text)


@pytest.mark.parametrize(
    ("text", "speaks_of_risk"),
    [
        # everyday talk in recovery and in a reflection
        ("i want to give up drinking for good", False),
        ("the group talked about harm reduction", False),
        ("cutting back on beer this month", False),
        ("honestly it changed my life", False),
        ("not sure whats going on with me lately", False),
        ("im done for today, tired but proud", False),
        ("nothing really stood out", False),
        ("slept like a rock after the session", False),
        # speaking of dying, ending a life, disappearing, hurting oneself, not going on
        ("some days i dont want to wake up", True),
        ("part of me wants to end it all", True),
        ("they'd be better off without me", True),
        ("i can't go on like this", True),
        ("i feel like such a burden", True),
        ("i want to disappear forever", True),
    ],
)
def test_a_guess_in_a_journal_form_needs_words_about_life_and_death(
    text: str, speaks_of_risk: bool
) -> None:
    assert mentions_risk_words(text) is speaks_of_risk
