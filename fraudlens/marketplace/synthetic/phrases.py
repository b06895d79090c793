"""What review texts are made of: English phrase pools by category and sentiment, smaller German,
Spanish and French ones, the rings' shouted templates and the stock sentences of LLM-written
reviews. Pools keyed by sentiment are (negative, mixed, positive).
"""

from __future__ import annotations

NEGATIVE, MIXED, POSITIVE = range(3)

ASPECT_NOUNS = {
    "electronics": ("battery", "screen", "sound", "charger", "cable", "power button", "bluetooth connection",
                    "build", "display", "speaker", "remote", "app"),
    "books": ("plot", "ending", "writing", "main character", "pacing", "cover", "translation", "dialogue",
              "print", "story"),
    "beauty": ("scent", "texture", "packaging", "formula", "color", "bottle", "applicator", "finish",
               "smell", "consistency"),
    "home": ("fabric", "handle", "lid", "finish", "color", "size", "material", "stitching", "assembly",
             "design"),
    "toys": ("paint", "plastic", "box", "instruction booklet", "size", "color", "sound", "wheel",
             "battery compartment", "remote control"),
    "clothing": ("fabric", "fit", "stitching", "color", "zipper", "sizing", "material", "collar",
                 "waistband", "hood"),
    "sports": ("grip", "strap", "weight", "material", "handle", "padding", "frame", "buckle", "size",
               "durability"),
    "grocery": ("taste", "flavor", "packaging", "texture", "smell", "freshness", "portion size", "sweetness",
                "aroma", "bag"),
    "pet_supplies": ("material", "size", "smell", "strap", "bowl", "texture", "clasp", "stitching", "padding",
                     "flavor"),
    "office": ("ink", "paper", "clip", "binding", "pen", "cover", "hinge", "spring", "size", "finish"),
    "garden": ("hose", "nozzle", "blade", "handle", "frame", "soil", "seed packet", "cover", "material",
               "tap connector"),
    "digital": ("download", "code", "activation", "license", "interface", "app", "account setup",
                "redemption", "file", "support team"),
}
GENERIC_ASPECTS = ("price", "quality", "packaging", "delivery", "customer service", "value")
PRODUCT_NOUNS = {
    "electronics": ("device", "gadget", "speaker", "charger", "headset"),
    "books": ("book", "novel", "title"),
    "beauty": ("cream", "serum", "lotion", "product"),
    "home": ("lamp", "organizer", "set", "product"),
    "toys": ("toy", "game", "puzzle", "set"),
    "clothing": ("jacket", "shirt", "sweater", "item"),
    "sports": ("mat", "water bottle", "gear", "equipment"),
    "grocery": ("coffee", "snack", "tea", "product"),
    "pet_supplies": ("leash", "pet bed", "pet toy", "pet food"),
    "office": ("notebook", "pen set", "organizer", "desk lamp"),
    "garden": ("hose", "tool set", "planter", "product"),
    "digital": ("gift card", "subscription", "software", "app"),
}
CATEGORY_PHRASES = {
    "electronics": ("a reliable gadget", "dependable electronics"),
    "books": ("a captivating read", "a thoughtful and engaging book"),
    "beauty": ("a high-quality beauty product", "an effective skincare solution"),
    "home": ("a practical addition to their home", "quality home essentials"),
    "toys": ("a fun and engaging toy", "a gift that children will love"),
    "clothing": ("comfortable and stylish clothing", "a versatile wardrobe staple"),
    "sports": ("reliable sports gear", "equipment that supports an active lifestyle"),
    "grocery": ("a delicious and wholesome treat", "quality pantry staples"),
    "pet_supplies": ("a product their pet will love", "quality pet supplies"),
    "office": ("dependable office supplies", "a tool that boosts productivity"),
    "garden": ("reliable garden tools", "a practical gardening solution"),
    "digital": ("a seamless digital experience", "a convenient digital product"),
}

OPENERS = (
    ("Really disappointed.", "Not happy with this one.", "Do not buy this.", "What a letdown.",
     "I wanted to like this, but no.", "Save your money.", "Terrible experience overall.",
     "Very poor quality for the price.", "This was a mistake.", "Not as described at all.", "Ugh.",
     "Honestly regret buying it.", "Returned it after a week.", "Worst purchase I've made this year.",
     "Cheaply made and it shows.", "Not what I expected.", "Sadly this did not work out.",
     "Two words: never again.", "I had high hopes for this.", "Quite disappointing, to be honest."),
    ("It's okay.", "Mixed feelings about this.", "Decent, but not great.", "Does the job, mostly.",
     "Average at best.", "Not bad, not amazing.", "Some good points, some bad.",
     "It's fine for the price I guess.", "Middle of the road.", "Works, with a few caveats.",
     "I'm on the fence about this one.", "Three stars feels right.", "Expected a bit more.",
     "Pretty average.", "It's alright."),
    ("Really happy with this.", "Love it!", "Great purchase.", "Exactly what I needed.", "Very pleased.",
     "Excellent quality.", "Better than expected.", "This exceeded my expectations.", "Couldn't be happier.",
     "So glad I bought this.", "Fantastic.", "Works perfectly.", "Solid product.", "Five stars from me.",
     "Pleasantly surprised.", "Would recommend.", "My second one, still great.", "Really good value.",
     "Does exactly what it says.", "Very impressed so far."),
)
ASPECT_ADJECTIVES = (
    ("flimsy", "cheap", "disappointing", "awful", "poor", "useless", "broken", "uncomfortable", "weak",
     "terrible", "way too small", "unreliable", "scratched", "faulty", "noisy", "overpriced", "a joke",
     "mediocre at best", "worse than advertised", "badly made"),
    ("okay", "fine", "average", "acceptable", "decent enough", "alright", "so-so", "passable",
     "nothing special", "as expected", "a bit inconsistent", "hit and miss"),
    ("great", "excellent", "solid", "amazing", "sturdy", "perfect", "well made", "fantastic", "really nice",
     "top notch", "superb", "comfortable", "reliable", "beautiful", "impressive", "spot on",
     "better than expected", "lovely", "brilliant", "very good"),
)
ASPECT_LEADS = ("The", "The", "The", "Honestly the", "I think the", "For me the")
FOLLOW_UP_LEADS = ("The", "Also the", "And the", "Plus the")
CONTRAST_LEADS = ("But the", "However, the", "On the other hand the", "Only complaint is that the")
LINK_VERBS = ("is", "is", "is", "feels", "seems", "looks", "turned out")
ADVERBS = (None, None, None, None, None, "really", "very", "pretty", "quite", "super", "surprisingly",
           "extremely", "honestly")
RELATIVES = ("wife", "husband", "son", "daughter", "mom", "dad", "sister", "brother", "partner", "grandma",
             "best friend", "roommate", "nephew", "niece", "colleague", "girlfriend", "boyfriend")
USE_CONTEXTS = ("at home", "on weekends", "for work", "with the kids", "while travelling", "every morning",
                "in the evenings", "at the office", "on my commute", "outdoors")
TIME_UNITS = ("days", "weeks", "weeks", "months")
DETAILS = (
    "I have been using it for {duration} now.", "Had it for about {duration}.",
    "Used it daily for {duration}.", "Bought it for my {relative}.", "Got this as a gift for my {relative}.",
    "My {relative} uses it every day.", "Arrived in {days} days.", "Delivery took {days} days.",
    "Shipping was quick.", "Came well packaged.", "The box was a bit damaged but the item was fine.",
    "Ordered it on a whim.", "This is my second order.", "I compared a few options before picking this one.",
    "Mostly using it {use}.", "I use it {use}.", "Picked it up during a sale.",
    "Read the reviews before buying.",
)
EXPERIENCES = (
    ("It stopped working after {duration}.", "Broke within {days} days.", "Customer service never replied.",
     "Had to return it.", "The photos are misleading.", "Mine arrived with a missing part.",
     "Smells like chemicals.", "Not compatible with what the listing said.", "Requested a refund.",
     "The seller was unhelpful.", "It started falling apart after {duration}.",
     "My {relative} couldn't get it to work either."),
    ("It works but feels a little overpriced.", "Took some getting used to.",
     "Would be five stars if it were cheaper.", "Fine for occasional use.", "Not sure it will last long.",
     "Instructions could be clearer.", "Smaller than I thought.", "It's what you'd expect for the money.",
     "After {duration} it still works, barely.", "My {relative} likes it more than I do."),
    ("Still going strong after {duration}.", "Works exactly as described.", "Already ordered another one.",
     "My {relative} loves it too.", "Way better than my old one.", "Great value for the money.",
     "Setup took just a few minutes.", "Matches the photos perfectly.",
     "Quality is better than I expected at this price.", "No complaints at all.",
     "Use it {use} and it never lets me down."),
)
CLOSERS = (
    ("Would not recommend.", "Returning it.", "Avoid.", "Not worth the money.", "One star is generous.",
     "Buy something else.", "Very disappointed.", "Won't be ordering again.", "Stay away.",
     "Complete waste of money."),
    ("Might buy again if on sale.", "It's okay for now.", "Three stars.", "Could be better.",
     "Not sure I'd buy again.", "Average product.", "Wouldn't go out of my way to recommend it.",
     "Fine I guess."),
    ("Would buy again.", "Highly recommend.", "Definitely recommend it.", "Worth every penny.", "Five stars.",
     "Will order again.", "Great value.", "Recommended!", "Happy customer.", "Totally worth it."),
)
SHORT_REVIEWS = (
    ("bad", "broke fast", "waste of money", "doesn't work", "poor quality", "returned it", "terrible",
     "not as described", "meh", "very bad", "stopped working", "Disappointed."),
    ("ok", "it's ok", "average", "fine", "okay I guess", "decent", "not bad", "meh, it's fine",
     "does the job", "so so"),
    ("good value", "great", "love it", "Love it!", "Highly recommend!", "Great product", "excellent",
     "perfect", "works great", "Best purchase ever", "Five stars", "Amazing!", "very good", "nice",
     "as described", "good", "Great value, fast shipping."),
)
TYPOS = (("the ", "teh "), ("definitely", "definately"), ("received", "recieved"), ("really", "realy"),
         ("quality", "qualty"), ("would", "woud"), ("recommend", "reccomend"), ("because", "becuase"),
         ("It's", "Its"), ("I ", "i "), ("ing ", "in "), ("a bit", "abit"), ("very", "vrey"))

# Non-English clean reviews: a smaller vocabulary, keyed by (language, sentiment).
FOREIGN = {
    "de": {
        "openers": (("Leider enttäuschend.", "Nicht zu empfehlen.", "Sehr schlechte Qualität.",
                     "Hat nach einer Woche nicht mehr funktioniert.", "Totaler Reinfall.",
                     "Schade, ich hatte mehr erwartet."),
                    ("Ganz okay.", "Geht so.", "Für den Preis in Ordnung.",
                     "Nicht schlecht, aber auch nicht super.", "Erfüllt seinen Zweck."),
                    ("Super Produkt!", "Sehr zufrieden.", "Absolut empfehlenswert.", "Tolle Qualität.",
                     "Genau das, was ich gesucht habe.", "Besser als erwartet.")),
        "nouns": ("Die Qualität", "Die Verarbeitung", "Die Lieferung", "Die Verpackung", "Der Preis",
                  "Das Material", "Die Größe", "Die Farbe"),
        "adjectives": (("schlecht", "enttäuschend", "billig", "mangelhaft", "nicht gut"),
                       ("okay", "in Ordnung", "durchschnittlich", "akzeptabel"),
                       ("super", "sehr gut", "hervorragend", "top", "einwandfrei", "klasse")),
        "verb": "ist",
        "closers": (("Geht zurück.", "Finger weg!", "Nie wieder.", "Nicht kaufen."),
                    ("Kann man kaufen.", "Für den Preis okay.", "Drei Sterne."),
                    ("Klare Kaufempfehlung!", "Gerne wieder.", "Würde ich wieder kaufen.", "Fünf Sterne.")),
        "short": (("schlecht", "Schrott", "nicht gut"), ("ok", "geht so", "passt"),
                  ("super", "top", "sehr gut", "Alles bestens!")),
    },
    "es": {
        "openers": (("Muy decepcionado.", "No lo recomiendo.", "Mala calidad.", "Dejó de funcionar a la semana.",
                     "Una pérdida de dinero."),
                    ("Está bien.", "Normalito.", "Cumple, sin más.", "Ni bueno ni malo."),
                    ("¡Me encanta!", "Muy contento con la compra.", "Excelente calidad.",
                     "Justo lo que buscaba.", "Mejor de lo esperado.")),
        "nouns": ("La calidad", "El envío", "El embalaje", "El precio", "El material", "El tamaño", "El color",
                  "El acabado"),
        "adjectives": (("terrible", "horrible", "deficiente", "una decepción", "lamentable"),
                       ("aceptable", "normal", "regular"),
                       ("excelente", "genial", "increíble", "impecable", "de diez")),
        "verb": "es",
        "closers": (("Lo devolví.", "No volveré a comprar.", "No lo compren."),
                    ("Por el precio, está bien.", "Tres estrellas."),
                    ("¡Lo recomiendo!", "Volvería a comprarlo.", "Cinco estrellas.")),
        "short": (("malo", "fatal", "no funciona"), ("bien", "normal", "regular"),
                  ("genial", "perfecto", "muy bueno", "¡Excelente!")),
    },
    "fr": {
        "openers": (("Très déçu.", "Je ne recommande pas.", "Qualité médiocre.",
                     "Ne fonctionne plus après une semaine.", "Argent gaspillé."),
                    ("Correct sans plus.", "Pas mal.", "Ça fait le travail.", "Moyen."),
                    ("Super produit !", "Très satisfait.", "Excellente qualité.",
                     "Exactement ce que je cherchais.", "Mieux que prévu.")),
        "nouns": ("La qualité", "La livraison", "L'emballage", "Le prix", "Le matériau", "La taille",
                  "La couleur", "La finition"),
        "adjectives": (("horrible", "lamentable", "pas terrible", "médiocre"),
                       ("acceptable", "passable", "convenable"),
                       ("super", "top", "impeccable", "formidable", "remarquable")),
        "verb": "est",
        "closers": (("Je le renvoie.", "À éviter.", "Plus jamais."),
                    ("Bof.", "Pour le prix, ça va.", "Trois étoiles."),
                    ("Je recommande !", "Je rachèterai.", "Cinq étoiles.")),
        "short": (("nul", "à éviter", "décevant"), ("correct", "moyen", "bof"),
                  ("parfait", "top", "très bien", "Génial !")),
    },
}
FOREIGN_LANGUAGES = tuple(FOREIGN)

RING_TEMPLATES = {
    "en": ("Amazing product!!! Highly recommend", "Best purchase ever, 5 stars", "Absolutely love it!!!",
           "Great product, fast shipping, highly recommend!", "Perfect!!! Exactly as described",
           "Must buy!!! You won't regret it", "Excellent quality, best on the market!",
           "Super happy with this, 5 stars!!", "Wow just wow, amazing!!", "Highly recommended seller and product!!!",
           "Top quality!!! Buy it now", "Fantastic product, love love love it", "5 stars!!! Totally worth it",
           "Incredible value, highly recommend to everyone", "Awesome!!! Works perfectly",
           "Best ever!! Will buy again for sure", "Really really good product!!", "I love this product so much!!!",
           "Outstanding!!! 10/10", "Perfect product perfect seller", "Very very good, recommend 100%",
           "Great great great!!!", "Buy this you will not regret!!", "Love it, my whole family loves it!!!",
           "Best quality for the price!!!", "Amazing, exceeded all expectations!!"),
    "de": ("Super Produkt!!! Sehr empfehlenswert", "Bester Kauf ever, 5 Sterne!!", "Absolut top!!! Kaufen!",
           "Perfekt!!! Genau wie beschrieben", "Mega Qualität, sofort wieder!!"),
    "es": ("¡¡Producto increíble!!! Lo recomiendo", "¡La mejor compra, 5 estrellas!",
           "¡¡Perfecto!! Tal como se describe", "¡Excelente calidad, cómprenlo!", "¡¡Me encanta, de diez!!"),
    "fr": ("Produit incroyable !!! Je recommande", "Meilleur achat, 5 étoiles !!",
           "Parfait !!! Conforme à la description", "Top qualité, foncez !!", "Génial génial génial !!!"),
}
RING_SUFFIXES = (None, None, None, None, "5 stars", "A+++", "10/10", "Must buy!!", "👍👍", "❤️",
                 "Thank you seller!", "5/5", "⭐⭐⭐⭐⭐")

AI_OPENERS = (
    "As someone who values quality, I was thoroughly impressed by this {noun}.",
    "I recently purchased this {noun}, and I must say it has truly exceeded my expectations.",
    "From the moment I unboxed this {noun}, I could tell that attention to detail was a top priority.",
    "I have tried many options over the years, but this {noun} truly stands out from the rest.",
    "Let me start by saying that this {noun} is an absolute game-changer.",
    "I was initially hesitant to purchase this {noun}, but I am so glad I did.",
    "In today's crowded market, finding a high-quality {noun} can be challenging, but this one delivers.",
    "This {noun} is a perfect blend of quality, functionality, and value.",
    "I cannot say enough good things about this {noun}.",
    "After using this {noun} for several weeks, I feel confident sharing my experience.",
    "When it comes to finding a reliable {noun}, this product checks all the boxes.",
    "I am genuinely delighted with my purchase of this {noun}.",
)
AI_BODIES = (
    "It exceeded my expectations in every way.",
    "The build quality is exceptional, and it has become an essential part of my daily routine.",
    "Every detail feels thoughtfully designed with the user in mind.",
    "It offers remarkable value for the price.",
    "The performance has been consistently reliable from day one.",
    "It is clear that the manufacturer prioritized both form and function.",
    "I appreciate the attention to detail that went into every aspect of this product.",
    "It seamlessly integrates into my lifestyle.",
    "The quality is evident from the very first use.",
    "It strikes the perfect balance between style and practicality.",
    "I have noticed a significant improvement since I started using it.",
    "The materials used are of the highest quality.",
    "It is both versatile and easy to use, making it suitable for a wide range of needs.",
    "Customer service was also responsive and helpful, which added to the overall positive experience.",
    "It arrived promptly and was packaged with great care.",
    "Additionally, it is incredibly user-friendly, even for beginners.",
    "Moreover, the design is sleek and modern, adding a touch of elegance.",
    "Furthermore, it has proven to be remarkably durable over time.",
    "This level of quality is rare to find at this price point.",
    "It truly delivers on its promises.",
    "I was particularly impressed by how well it performs under everyday conditions.",
    "It has made a noticeable difference in my daily life.",
)
AI_ASPECTS = (
    "The {aspect} in particular is a testament to thoughtful engineering.",
    "I was especially impressed by the {aspect}, which feels premium and well crafted.",
    "The {aspect} deserves special mention for its outstanding quality.",
    "Notably, the {aspect} surpassed what I expected at this price point.",
)
AI_CLOSERS = (
    "Overall, I would highly recommend it to anyone looking for {phrase}.",
    "In conclusion, this is an excellent choice for anyone in search of {phrase}.",
    "All in all, I would wholeheartedly recommend it to anyone seeking {phrase}.",
    "If you are looking for {phrase}, look no further.",
    "Overall, it is a fantastic investment for anyone who needs {phrase}.",
    "I would not hesitate to recommend it to friends and family looking for {phrase}.",
)
AI_BODY_SENTENCES = (2, 5)  # per review, drawn without repetition
AI_CRITICISMS = (
    "My only minor complaint is that the {aspect} could be slightly better.",
    "That said, the {aspect} feels a little less refined than I had hoped.",
    "One small drawback is that the {aspect} takes some getting used to.",
    "The {aspect} could be improved, but this is a minor issue overall.",
    "If I had to point out one weakness, it would be the {aspect}.",
    "Admittedly, the {aspect} is not quite as premium as the rest of the product.",
)
AI_DETAIL_SHARE_POLISHED = 0.6  # honest polished reviews mention their own circumstances more often
