"""Static vocabularies for the sample world: names, places, titles, industries, templates.

Lists are deliberately large and popularity-weighted (earlier entries are more common) so that name
collisions happen at realistic rates: the dedupe work must cope with many different "John Smith"s.
"""

from __future__ import annotations

FIRST_NAMES = [
    "James", "Michael", "John", "Robert", "David", "William", "Richard", "Joseph", "Thomas", "Christopher",
    "Mary", "Jennifer", "Patricia", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
    "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Andrew", "Joshua", "Kenneth", "Kevin", "Brian",
    "Lisa", "Nancy", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna", "Michelle", "Carol",
    "George", "Timothy", "Ronald", "Jason", "Edward", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas",
    "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca", "Laura", "Sharon", "Cynthia", "Katherine", "Amy",
    "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon", "Benjamin", "Samuel", "Gregory",
    "Angela", "Shirley", "Anna", "Brenda", "Pamela", "Emma", "Nicole", "Helen", "Samantha", "Christine",
    "Alexander", "Patrick", "Frank", "Raymond", "Jack", "Dennis", "Jerry", "Tyler", "Aaron", "Jose",
    "Rachel", "Catherine", "Victoria", "Olivia", "Sophia", "Grace", "Hannah", "Abigail", "Natalie", "Julia",
    "Adam", "Nathan", "Henry", "Zachary", "Douglas", "Peter", "Kyle", "Noah", "Ethan", "Jeremy",
    "Megan", "Lauren", "Alexandra", "Christina", "Madison", "Chloe", "Zoe", "Isabella", "Ava", "Mia",
    "Oliver", "Harry", "Charlie", "Leo", "Oscar", "Archie", "Freddie", "Alfie", "Theodore", "Arthur",
    "Amelia", "Isla", "Poppy", "Freya", "Lily", "Ella", "Evie", "Ruby", "Florence", "Imogen",
    "Lukas", "Maximilian", "Felix", "Jonas", "Paul", "Finn", "Elias", "Moritz", "Tobias", "Johannes",
    "Lena", "Leonie", "Marie", "Lea", "Johanna", "Katharina", "Anja", "Sabine", "Ulrike", "Jana",
    "Lucas", "Hugo", "Louis", "Jules", "Gabriel", "Arthur", "Mathieu", "Antoine", "Julien", "Nicolas",
    "Camille", "Manon", "Chloé", "Léa", "Inès", "Céline", "Amélie", "Claire", "Élodie", "Margaux",
    "Daan", "Sem", "Bram", "Jesse", "Ruben", "Thijs", "Sanne", "Fleur", "Lotte", "Anouk",
    "Rahul", "Amit", "Priya", "Ananya", "Arjun", "Vikram", "Sneha", "Rohan", "Aditi", "Karthik",
    "Deepak", "Neha", "Sanjay", "Pooja", "Ravi", "Divya", "Suresh", "Kavya", "Anil", "Meera",
    "Wei", "Mei", "Jun", "Hiroshi", "Yuki", "Min-jun", "Seo-yeon", "Chen", "Li", "Hana",
    "Mohammed", "Ahmed", "Fatima", "Omar", "Aisha", "Yusuf", "Layla", "Hassan", "Zainab", "Ali",
    "Carlos", "Juan", "Luis", "Miguel", "Javier", "María", "Lucía", "Sofía", "Valentina", "Diego",
    "Erik", "Lars", "Anders", "Ingrid", "Astrid", "Sven", "Nils", "Karin", "Elin", "Maja",
    "Sean", "Liam", "Ciara", "Aoife", "Niamh", "Declan", "Cormac", "Siobhan", "Padraig", "Orla",
    "Jamie", "Morgan", "Taylor", "Jordan", "Casey", "Riley", "Avery", "Quinn", "Cameron", "Dakota",
    "Kathleen", "Deborah", "Margaret", "Victoria", "Frederick", "Lawrence", "Nathaniel", "Gerald",
    "Leonard", "Kathryn", "Jacqueline", "Theresa", "Beverly", "Denise", "Marilyn", "Charles",
]

LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes",
    "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper",
    "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson",
    "Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes",
    "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez",
    "Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes",
    "Fisher", "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham",
    "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera", "Gibson",
    "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens",
    "Harrison", "Fernandez", "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry",
    "Chen", "Freeman", "Webb", "Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter",
    "Hunter", "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Munoz", "Hunt",
    "Hicks", "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd", "Rose", "Stone", "Salazar",
    "Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt", "Garza", "Daniels", "Ferguson", "Nichols",
    "Müller", "Schneider", "Fischer", "Weber", "Schulz", "Wagner", "Becker", "Hoffmann", "Schäfer", "Koch",
    "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger",
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefebvre", "Michel", "Garnier", "Rousseau", "Fontaine", "Chevalier", "Girard",
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
    "Sharma", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair", "Mehta", "Joshi", "Rao",
    "Shah", "Desai", "Agarwal", "Chopra", "Malhotra", "Kapoor", "Bose", "Das", "Pillai", "Verma",
    "Wang", "Zhang", "Liu", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun",
    "Tanaka", "Suzuki", "Takahashi", "Watanabe", "Ito", "Park", "Choi", "Jung", "Kang", "Cho",
    "O'Brien", "O'Connor", "Byrne", "Ryan", "O'Sullivan", "Walsh", "McCarthy", "Doyle", "Kavanagh", "Brennan",
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson",
    "Khan", "Hussain", "Ahmed", "Rahman", "Ali", "Hassan", "Ibrahim", "Mahmoud", "Aziz", "Haddad",
    "Silva", "Santos", "Oliveira", "Souza", "Costa", "Pereira", "Almeida", "Ferreira", "Carvalho", "Gomes",
    "Wong", "Ng", "Tan", "Lim", "Goh", "Ong", "Teo", "Koh", "Chua", "Yeo",
    "Abbott", "Barker", "Chapman", "Dawson", "Elliott", "Fletcher", "Gardner", "Hudson", "Irwin", "Jennings",
    "Knight", "Lambert", "Manning", "Norris", "Osborne", "Pearce", "Quinn", "Rowe", "Sutton", "Thornton",
]

# Formal name -> common nicknames. Used to make "Bob Smith" duplicates of "Robert Smith".
NICKNAMES = {
    "Robert": ["Bob", "Rob", "Bobby"], "William": ["Bill", "Will", "Billy"], "Elizabeth": ["Liz", "Beth", "Lizzie"],
    "Katherine": ["Kate", "Kathy", "Katie"], "Kathleen": ["Kathy", "Kate"], "Kathryn": ["Kate", "Katie"],
    "Catherine": ["Cathy", "Kate"], "Michael": ["Mike", "Mikey"], "James": ["Jim", "Jimmy", "Jamie"],
    "Richard": ["Rick", "Rich", "Dick"], "Thomas": ["Tom", "Tommy"], "Christopher": ["Chris"],
    "Jennifer": ["Jen", "Jenny"], "Margaret": ["Maggie", "Meg", "Peggy"], "Daniel": ["Dan", "Danny"],
    "Matthew": ["Matt"], "Anthony": ["Tony"], "Joseph": ["Joe", "Joey"], "Alexander": ["Alex", "Xander"],
    "Nicholas": ["Nick"], "Benjamin": ["Ben"], "Samuel": ["Sam"], "Jonathan": ["Jon"],
    "Patricia": ["Pat", "Patty", "Trish"], "Susan": ["Sue", "Susie"], "Deborah": ["Debbie", "Deb"],
    "Rebecca": ["Becky", "Becca"], "Victoria": ["Vicky", "Tori"], "Andrew": ["Andy", "Drew"],
    "Edward": ["Ed", "Eddie", "Ted"], "Steven": ["Steve"], "Stephen": ["Steve"], "Timothy": ["Tim"],
    "Charles": ["Charlie", "Chuck"], "Gregory": ["Greg"], "Jessica": ["Jess"], "Alexandra": ["Alex", "Sasha"],
    "Christina": ["Tina", "Chris"], "Christine": ["Chris", "Tina"], "Abigail": ["Abby"], "Kimberly": ["Kim"],
    "Pamela": ["Pam"], "Peter": ["Pete"], "Frederick": ["Fred", "Freddie"], "Lawrence": ["Larry"],
    "Raymond": ["Ray"], "Ronald": ["Ron"], "Kenneth": ["Ken", "Kenny"], "Gerald": ["Gerry", "Jerry"],
    "Leonard": ["Len", "Leo"], "Nathaniel": ["Nate", "Nathan"], "Zachary": ["Zach", "Zack"],
    "Joshua": ["Josh"], "Jacob": ["Jake"], "Theodore": ["Theo", "Ted"], "Johannes": ["Hannes", "Jo"],
    "Maximilian": ["Max"], "Katharina": ["Kathi", "Katja"], "Samantha": ["Sam"], "Jacqueline": ["Jackie"],
    "Theresa": ["Tess", "Terry"], "Beverly": ["Bev"], "Douglas": ["Doug"], "Jeffrey": ["Jeff"],
    "Nicole": ["Nikki"], "Melissa": ["Mel", "Missy"], "Stephanie": ["Steph"], "Amanda": ["Mandy"],
    "Johanna": ["Hanna"], "Mohammed": ["Mo"], "Padraig": ["Paddy"], "Valentina": ["Vale"],
}

# role category -> seniority -> job titles. Titles deliberately vary in wording so mapping is non-trivial.
TITLES: dict[str, dict[str, list[str]]] = {
    "sales": {
        "c_level": ["Chief Revenue Officer", "CRO", "Chief Sales Officer"],
        "vp": ["VP Sales", "VP of Sales", "Vice President, Sales", "SVP Sales", "VP Revenue"],
        "director": ["Director of Sales", "Sales Director", "Head of Sales", "Director, Sales Development"],
        "manager": ["Sales Manager", "Regional Sales Manager", "SDR Manager", "Account Manager"],
        "individual_contributor": [
            "Account Executive", "Senior Account Executive", "SDR", "Sales Development Representative",
            "BDR", "Business Development Representative", "Enterprise Account Executive",
        ],
        "intern": ["Sales Intern"],
    },
    "marketing": {
        "c_level": ["Chief Marketing Officer", "CMO"],
        "vp": ["VP Marketing", "VP of Demand Generation", "Vice President Marketing"],
        "director": ["Director of Marketing", "Head of Growth", "Marketing Director", "Director, Demand Gen"],
        "manager": ["Marketing Manager", "Demand Generation Manager", "Product Marketing Manager",
                    "Growth Marketing Manager"],
        "individual_contributor": ["Marketing Specialist", "Content Marketer", "Marketing Coordinator",
                                   "SEO Specialist", "Marketing Operations Specialist"],
        "intern": ["Marketing Intern"],
    },
    "operations": {
        "c_level": ["Chief Operating Officer", "COO"],
        "vp": ["VP Operations", "VP Revenue Operations"],
        "director": ["Director of Revenue Operations", "Head of RevOps", "Director of Operations"],
        "manager": ["Revenue Operations Manager", "Sales Operations Manager", "Operations Manager"],
        "individual_contributor": ["RevOps Analyst", "Sales Operations Analyst", "Operations Analyst",
                                   "CRM Administrator"],
        "intern": ["Operations Intern"],
    },
    "engineering": {
        "c_level": ["CTO", "Chief Technology Officer"],
        "vp": ["VP Engineering", "VP of Engineering"],
        "director": ["Director of Engineering", "Head of Engineering", "Engineering Director"],
        "manager": ["Engineering Manager", "Software Development Manager"],
        "individual_contributor": ["Software Engineer", "Senior Software Engineer", "Data Engineer",
                                   "Backend Developer", "Staff Engineer", "DevOps Engineer"],
        "intern": ["Software Engineering Intern"],
    },
    "it": {
        "c_level": ["CIO", "Chief Information Officer"],
        "vp": ["VP IT", "VP of Information Technology"],
        "director": ["IT Director", "Director of IT", "Head of IT"],
        "manager": ["IT Manager", "Systems Manager"],
        "individual_contributor": ["Systems Administrator", "IT Specialist", "Network Engineer",
                                   "Helpdesk Analyst"],
        "intern": ["IT Intern"],
    },
    "finance": {
        "c_level": ["CFO", "Chief Financial Officer"],
        "vp": ["VP Finance", "VP of Finance"],
        "director": ["Finance Director", "Director of FP&A", "Controller"],
        "manager": ["Finance Manager", "Accounting Manager"],
        "individual_contributor": ["Financial Analyst", "Accountant", "Procurement Specialist"],
        "intern": ["Finance Intern"],
    },
    "hr": {
        "c_level": ["Chief People Officer", "CHRO"],
        "vp": ["VP People", "VP Human Resources"],
        "director": ["HR Director", "Head of People", "Director of Talent"],
        "manager": ["HR Manager", "Recruiting Manager"],
        "individual_contributor": ["Recruiter", "HR Generalist", "Talent Acquisition Partner"],
        "intern": ["HR Intern"],
    },
    "executive": {
        "c_level": ["CEO", "Chief Executive Officer", "Founder & CEO", "Co-Founder", "Managing Director",
                    "President", "Owner"],
        "vp": ["General Manager"],
        "director": ["Chief of Staff"],
        "manager": ["Executive Assistant"],
        "individual_contributor": ["Executive Assistant"],
        "intern": ["Founder's Associate"],
    },
    "product": {
        "c_level": ["Chief Product Officer", "CPO"],
        "vp": ["VP Product", "VP of Product Management"],
        "director": ["Director of Product", "Head of Product", "Group Product Manager"],
        "manager": ["Product Manager", "Senior Product Manager"],
        "individual_contributor": ["Product Analyst", "Associate Product Manager", "Product Designer",
                                   "UX Researcher"],
        "intern": ["Product Intern"],
    },
    "customer_success": {
        "c_level": ["Chief Customer Officer"],
        "vp": ["VP Customer Success", "VP of Customer Experience"],
        "director": ["Director of Customer Success", "Head of Customer Success", "Head of Support"],
        "manager": ["Customer Success Manager", "Support Manager"],
        "individual_contributor": ["Customer Success Associate", "Support Engineer", "Onboarding Specialist",
                                   "Implementation Consultant"],
        "intern": ["Customer Success Intern"],
    },
    "other": {
        "c_level": ["Chief Legal Officer"],
        "vp": ["VP Legal"],
        "director": ["Legal Director", "Office Director"],
        "manager": ["Office Manager", "Facilities Manager", "Project Manager"],
        "individual_contributor": ["Paralegal", "Consultant", "Analyst", "Administrator", "Teacher"],
        "intern": ["Intern", "Working Student"],
    },
}
ROLES = list(TITLES)
ROLE_WEIGHTS = [0.17, 0.14, 0.08, 0.16, 0.08, 0.06, 0.05, 0.05, 0.07, 0.07, 0.07]
SENIORITIES = ["c_level", "vp", "director", "manager", "individual_contributor", "intern"]
SENIORITY_WEIGHTS = [0.06, 0.08, 0.15, 0.25, 0.43, 0.03]

# Industry label (HubSpot export label) -> ICP fit contribution (0..1) and revenue per employee (USD).
INDUSTRIES = [
    ("Computer Software", 1.00, 220_000), ("Internet", 0.90, 250_000),
    ("Information Technology and Services", 0.85, 160_000), ("Financial Services", 0.70, 300_000),
    ("Marketing and Advertising", 0.75, 140_000), ("Computer & Network Security", 0.85, 230_000),
    ("Telecommunications", 0.50, 280_000), ("Staffing and Recruiting", 0.55, 120_000),
    ("Management Consulting", 0.45, 180_000), ("Hospital & Health Care", 0.25, 110_000),
    ("Retail", 0.20, 150_000), ("Logistics and Supply Chain", 0.35, 170_000),
    ("Machinery", 0.15, 200_000), ("Higher Education", 0.05, 90_000), ("Insurance", 0.40, 320_000),
    ("Real Estate", 0.20, 260_000), ("Consumer Goods", 0.15, 210_000), ("E-Learning", 0.60, 130_000),
    ("Banking", 0.45, 350_000), ("Nonprofit Organization Management", 0.05, 70_000),
    ("Automotive", 0.15, 240_000), ("Government Administration", 0.02, 100_000),
]
INDUSTRY_WEIGHTS = [12, 7, 10, 6, 6, 3, 3, 4, 4, 6, 5, 4, 4, 3, 3, 3, 4, 2, 2, 3, 3, 2]

# Short industry words for descriptors in company names and free-text lead forms.
INDUSTRY_FREE_TEXT = {
    "Computer Software": ["Software", "SaaS", "B2B SaaS", "software"],
    "Internet": ["Internet", "Online", "Tech"], "Financial Services": ["Fintech", "Financial services"],
    "Information Technology and Services": ["IT services", "IT", "Tech"],
    "Marketing and Advertising": ["Marketing", "Advertising", "Agency"],
}

# Country code -> metadata. geo = ICP geo fit, weight = share of accounts.
COUNTRIES = {
    "US": dict(name="United States", dial="1", nsn=10, nanp=True, tld=".com", geo=1.0, weight=40,
               legal=["Inc.", "LLC", "Corp.", "Inc."], cities=[
                   ("San Francisco", "California", "941##"), ("New York", "New York", "100##"),
                   ("Austin", "Texas", "787##"), ("Boston", "Massachusetts", "021##"),
                   ("Seattle", "Washington", "981##"), ("Chicago", "Illinois", "606##"),
                   ("Denver", "Colorado", "802##"), ("Atlanta", "Georgia", "303##"),
                   ("Los Angeles", "California", "900##"), ("Miami", "Florida", "331##"),
                   ("Raleigh", "North Carolina", "276##"), ("Salt Lake City", "Utah", "841##"),
                   ("Columbus", "Ohio", "432##"), ("Minneapolis", "Minnesota", "554##")]),
    "GB": dict(name="United Kingdom", dial="44", nsn=10, nanp=False, tld=".co.uk", geo=0.9, weight=12,
               legal=["Ltd", "Limited", "Ltd", "PLC"], cities=[
                   ("London", "England", "EC#A #AB"), ("Manchester", "England", "M# #AB"),
                   ("Edinburgh", "Scotland", "EH# #AB"), ("Bristol", "England", "BS# #AB"),
                   ("Leeds", "England", "LS# #AB"), ("Cambridge", "England", "CB# #AB")]),
    "DE": dict(name="Germany", dial="49", nsn=10, nanp=False, tld=".de", geo=0.7, weight=9,
               legal=["GmbH", "AG", "GmbH", "SE"], cities=[
                   ("Berlin", "Berlin", "10###"), ("Munich", "Bavaria", "80###"),
                   ("Hamburg", "Hamburg", "20###"), ("Frankfurt", "Hesse", "60###"),
                   ("Cologne", "North Rhine-Westphalia", "50###"), ("Stuttgart", "Baden-Württemberg", "70###")]),
    "FR": dict(name="France", dial="33", nsn=9, nanp=False, tld=".fr", geo=0.55, weight=6,
               legal=["SAS", "SA", "SARL"], cities=[
                   ("Paris", "Île-de-France", "750##"), ("Lyon", "Auvergne-Rhône-Alpes", "6900#"),
                   ("Toulouse", "Occitanie", "3100#"), ("Nantes", "Pays de la Loire", "4400#"),
                   ("Lille", "Hauts-de-France", "5900#")]),
    "CA": dict(name="Canada", dial="1", nsn=10, nanp=True, tld=".ca", geo=0.95, weight=6,
               legal=["Inc.", "Ltd.", "Corp."], cities=[
                   ("Toronto", "Ontario", "M#A #B#"), ("Vancouver", "British Columbia", "V#A #B#"),
                   ("Montreal", "Quebec", "H#A #B#"), ("Ottawa", "Ontario", "K#A #B#"),
                   ("Calgary", "Alberta", "T#A #B#")]),
    "AU": dict(name="Australia", dial="61", nsn=9, nanp=False, tld=".com.au", geo=0.85, weight=5,
               legal=["Pty Ltd", "Pty. Ltd.", "Ltd"], cities=[
                   ("Sydney", "New South Wales", "20##"), ("Melbourne", "Victoria", "30##"),
                   ("Brisbane", "Queensland", "40##"), ("Perth", "Western Australia", "60##")]),
    "NL": dict(name="Netherlands", dial="31", nsn=9, nanp=False, tld=".nl", geo=0.75, weight=4,
               legal=["B.V.", "BV", "N.V."], cities=[
                   ("Amsterdam", "North Holland", "10## AB"), ("Rotterdam", "South Holland", "30## AB"),
                   ("Utrecht", "Utrecht", "35## AB"), ("Eindhoven", "North Brabant", "56## AB")]),
    "IN": dict(name="India", dial="91", nsn=10, nanp=False, tld=".in", geo=0.3, weight=7,
               legal=["Pvt Ltd", "Private Limited", "Ltd"], cities=[
                   ("Bengaluru", "Karnataka", "560###"), ("Mumbai", "Maharashtra", "400###"),
                   ("Pune", "Maharashtra", "411###"), ("Hyderabad", "Telangana", "500###"),
                   ("Chennai", "Tamil Nadu", "600###"), ("Gurugram", "Haryana", "122###")]),
    "SE": dict(name="Sweden", dial="46", nsn=9, nanp=False, tld=".se", geo=0.65, weight=2,
               legal=["AB"], cities=[("Stockholm", "Stockholm County", "111 ##"),
                                     ("Gothenburg", "Västra Götaland", "411 ##")]),
    "ES": dict(name="Spain", dial="34", nsn=9, nanp=False, tld=".es", geo=0.4, weight=3,
               legal=["S.L.", "S.A."], cities=[("Madrid", "Madrid", "280##"), ("Barcelona", "Catalonia", "080##"),
                                               ("Valencia", "Valencia", "460##")]),
    "IE": dict(name="Ireland", dial="353", nsn=9, nanp=False, tld=".ie", geo=0.85, weight=2,
               legal=["Ltd", "DAC"], cities=[("Dublin", "Leinster", "D0# A#B#"), ("Cork", "Munster", "T1# A#B#")]),
    "SG": dict(name="Singapore", dial="65", nsn=8, nanp=False, tld=".sg", geo=0.6, weight=2,
               legal=["Pte. Ltd."], cities=[("Singapore", "", "0#####")]),
    "BR": dict(name="Brazil", dial="55", nsn=11, nanp=False, tld=".com.br", geo=0.2, weight=2,
               legal=["Ltda.", "S.A."], cities=[("São Paulo", "SP", "01###-000"),
                                                 ("Rio de Janeiro", "RJ", "20###-000")]),
}

GENERIC_TLDS = [".com", ".com", ".com", ".io", ".io", ".co", ".ai", ".net"]

STREETS = {
    "en": ["Market St", "Main Street", "Broadway", "Oak Avenue", "Mission St", "High Street", "King Street",
           "Queen Street", "Park Road", "Church Lane", "Elm Street", "5th Avenue", "Pine Street",
           "Harbour Road", "Station Road", "Victoria Street", "Congress Ave", "Madison Ave"],
    "de": ["Hauptstraße", "Friedrichstraße", "Bahnhofstraße", "Schillerstraße", "Goethestraße",
           "Torstraße", "Leopoldstraße", "Kastanienallee"],
    "fr": ["Rue de Rivoli", "Avenue des Champs-Élysées", "Rue du Faubourg", "Boulevard Haussmann",
           "Rue de la République", "Rue Victor Hugo"],
    "nl": ["Herengracht", "Keizersgracht", "Damrak", "Coolsingel", "Stationsplein"],
}

# Company name parts. Bases are prefix+suffix compounds, so distinct companies share prefixes
# ("Cloudforge" vs "Cloudbridge") and sometimes whole bases with different descriptors/domains.
NAME_PREFIXES = [
    "Acme", "Apex", "Blue", "Bright", "Cloud", "Core", "Data", "Delta", "Echo", "Edge", "Ever", "Flux",
    "Fusion", "Grid", "Helix", "Hyper", "Iron", "Juniper", "Kite", "Lumen", "Meta", "Nimbus", "Nova",
    "Omni", "Orbit", "Peak", "Pixel", "Prism", "Quantum", "Quartz", "Red", "Sage", "Silver", "Sky",
    "Spark", "Stellar", "Summit", "Swift", "Terra", "True", "Ultra", "Vector", "Vertex", "Vivid", "Wave",
    "Zen", "Zenith", "North", "Pacific", "Atlas", "Beacon", "Cobalt", "Crimson", "Falcon", "Granite",
    "Harbor", "Indigo", "Lattice", "Maple", "Onyx", "Pioneer", "Polar", "Radiant", "Sierra", "Tidal",
    "Umbra", "Velvet", "Willow", "Aurora", "Bolt", "Cedar", "Copper", "Drift", "Ember", "Fern", "Glacier",
]
NAME_SUFFIXES = [
    "works", "labs", "soft", "logic", "point", "stream", "wave", "forge", "bridge", "path", "ware",
    "scale", "base", "hub", "loop", "mind", "flow", "stack", "line", "field", "shift", "craft", "gate",
    "sense", "ly", "io", "nest", "wise", "byte", "beam", "cast", "core", "dock", "grid", "port", "spring",
]
DESCRIPTORS = ["", "", "", "", "Analytics", "Systems", "Technologies", "Software", "Group", "Solutions",
               "Health", "Logistics", "Capital", "Digital", "Networks", "Partners", "Security", "Cloud"]

TECHNOLOGIES = [
    "Salesforce", "HubSpot", "Marketo", "Pardot", "Outreach", "Salesloft", "Gong", "ZoomInfo", "Segment",
    "Snowflake", "BigQuery", "Databricks", "dbt", "Fivetran", "Looker", "Tableau", "Power BI", "Slack",
    "Microsoft Teams", "Zendesk", "Intercom", "Jira", "Confluence", "AWS", "Google Cloud", "Azure",
    "Stripe", "Shopify", "WordPress", "Webflow", "Google Analytics", "Mixpanel", "Amplitude", "Okta",
    "Workday", "NetSuite", "Gainsight", "Drift", "6sense", "Clearbit",
]
# Competitors of Actionhouse; a tool_install signal for these is a strong trigger.
COMPETITOR_TECH = ["Outreach", "Salesloft", "6sense", "ZoomInfo", "Clearbit", "Drift"]

OWNERS = [
    ("Alice Carter", "NA-West"), ("Ben Ortiz", "NA-West"), ("Chloe Nguyen", "NA-West"),
    ("Derek Mills", "NA-East"), ("Erin Walsh", "NA-East"), ("Frank Osei", "NA-East"),
    ("Grace Liu", "NA-Central"), ("Hector Ruiz", "NA-Central"), ("Isabel Fraser", "Canada"),
    ("Jack Thompson", "UK-IE"), ("Katie Morgan", "UK-IE"), ("Liam O'Neill", "UK-IE"),
    ("Marta Schulz", "DACH"), ("Niklas Weber", "DACH"), ("Olivia Laurent", "France-Benelux"),
    ("Pieter de Wit", "France-Benelux"), ("Quentin Moreau", "Southern-Europe"), ("Riya Menon", "APAC"),
    ("Sam Kelly", "ANZ"), ("Tara Singh", "APAC"), ("Uma Lindqvist", "Nordics"), ("Victor Alves", "LATAM"),
]
TERRITORY_OF_COUNTRY = {
    "US": ["NA-West", "NA-East", "NA-Central"], "CA": ["Canada"], "GB": ["UK-IE"], "IE": ["UK-IE"],
    "DE": ["DACH"], "FR": ["France-Benelux"], "NL": ["France-Benelux"], "ES": ["Southern-Europe"],
    "IN": ["APAC"], "SG": ["APAC"], "AU": ["ANZ"], "SE": ["Nordics"], "BR": ["LATAM"],
}

FREE_MAIL = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com", "gmx.de",
             "web.de", "yahoo.co.uk", "protonmail.com"]
DISPOSABLE = ["mailinator.com", "10minutemail.com", "guerrillamail.com", "trashmail.com", "yopmail.com",
              "tempmail.net", "sharklasers.com", "dispostable.com"]
UNIVERSITIES = ["stanford.edu", "mit.edu", "berkeley.edu", "umich.edu", "nyu.edu", "utexas.edu",
                "ox.ac.uk", "cam.ac.uk", "tum.de", "ethz.ch", "iitb.ac.in", "uoft.ca"]

LIFECYCLE = ["Subscriber", "Lead", "Marketing Qualified Lead", "Sales Qualified Lead", "Opportunity",
             "Customer", "Evangelist", "Other"]
LEAD_STATUS = ["New", "Open", "In progress", "Attempted to contact", "Connected", "Open deal",
               "Unqualified", "Bad timing"]
ORIGINAL_SOURCES = ["Organic Search", "Paid Search", "Direct Traffic", "Referrals", "Social Media",
                    "Email Marketing", "Offline Sources", "Paid Social", "Other Campaigns"]

WEB_PAGES = [  # (path, title, kind)
    ("/", "Actionhouse - Turn your CRM into a system of action", "home"),
    ("/pricing", "Pricing | Actionhouse", "pricing"),
    ("/pricing/enterprise", "Enterprise pricing | Actionhouse", "pricing"),
    ("/pricing/compare", "Compare plans | Actionhouse", "pricing"),
    ("/demo", "Book a demo | Actionhouse", "demo"),
    ("/product/scoring", "Fit and intent scoring | Actionhouse", "product"),
    ("/product/dedupe", "Dedupe and entity resolution | Actionhouse", "product"),
    ("/integrations/hubspot", "HubSpot integration | Actionhouse", "product"),
    ("/customers", "Customer stories | Actionhouse", "product"),
    ("/docs/getting-started", "Getting started - Docs", "docs"),
    ("/docs/api", "API reference - Docs", "docs"),
    ("/docs/reverse-etl", "Reverse ETL - Docs", "docs"),
    ("/blog/lead-scoring-that-works", "Lead scoring that works | Blog", "blog"),
    ("/blog/crm-hygiene-checklist", "The CRM hygiene checklist | Blog", "blog"),
    ("/blog/reply-classification", "Classifying sales replies | Blog", "blog"),
    ("/blog/dedupe-at-scale", "Dedupe at scale | Blog", "blog"),
    ("/careers", "Careers | Actionhouse", "other"),
    ("/about", "About us | Actionhouse", "other"),
]
WEB_TRACK_EVENTS = ["Demo Requested", "Pricing Calculator Used", "Whitepaper Downloaded", "Webinar Registered",
                    "Signed Up", "Newsletter Subscribed"]
REFERRERS = ["https://www.google.com/", "https://www.linkedin.com/", "https://www.bing.com/", "", "",
             "https://news.ycombinator.com/", "https://www.g2.com/", "https://twitter.com/"]
USER_AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
]
PRODUCT_EVENTS = ["Dashboard Viewed", "Report Created", "Integration Connected", "User Invited",
                  "Export Run", "Score Model Trained", "Sequence Launched", "Merge Approved", "Logged In"]

CAMPAIGNS = ["Q3 Webinar: Scoring", "Pricing page retargeting", "G2 review drive", "RevOps summit 2026",
             "Outbound - ICP tier 1", "Newsletter", "Partner co-marketing", "Product launch: Dedupe"]

EMAIL_CLICK_PATHS = ["/pricing", "/demo", "/blog/lead-scoring-that-works", "/customers", "/docs/getting-started"]

# Reply templates per true class. {first} = sender's first name, {company} = contact's company,
# {colleague} = a referred colleague. Texts are kept free of newlines-in-CSV concerns (they go to JSON).
REPLY_TEMPLATES = {
    "positive": [
        "Thanks {first}, this is timely. Can we set up 30 minutes next week?",
        "Sounds interesting - we are looking at exactly this for {company}. Send me a few times.",
        "Yes, happy to chat. Tuesday or Wednesday afternoon works for me.",
        "Hi {first}, we have budget for this in Q1. Could you walk my team through a demo?",
        "Interested. What does pricing look like for a team of our size?",
        "Good timing actually, our CRM data is a mess. Let's talk - book something on my calendar.",
        "Please send over more details and a couple of slots for a call.",
        "We've been evaluating tools in this space. Would love to see how you compare, can we meet Thursday?",
        "Sure, let's connect. I'm free Monday after 2pm.",
        "Love the dedupe angle. Loop in my RevOps lead and let's find a time.",
        "Let's move forward: our procurement team needs your security questionnaire and MSA. Can you send them?",
        "Looks like a fit for {company}. Please send the vendor onboarding forms to our procurement team this week.",
    ],
    "objection": [
        "We already use Salesforce for this and are happy with it.",
        "Honestly this looks too expensive for a company of our size.",
        "We built something in-house that covers this, so not a fit.",
        "Not convinced an AI tool should touch our CRM data. What about data quality?",
        "We just signed a 3-year contract with a competitor, so no.",
        "I don't see how this is different from what HubSpot already gives us.",
        "Our security team would never approve a tool with write access to the CRM.",
        "Price is the issue - our budget for tooling is frozen.",
        "We tried something similar last year and adoption was poor.",
    ],
    "not_now": [
        "Not right now, maybe reach out again next quarter.",
        "We're in the middle of a reorg - check back in 6 months.",
        "Timing is bad, we are closing the fiscal year. Try me in January.",
        "I'm out of office until the 15th with limited access to email.",
        "Interesting but not a priority this year. Circle back in Q3.",
        "Please follow up after our budget planning in the spring.",
        "Busy season for us, let's revisit later in the year.",
        "We might look at this next year, not before.",
    ],
    "unsubscribe": [
        "Please remove me from your list.",
        "Unsubscribe.",
        "Stop emailing me.",
        "Take me off your mailing list please.",
        "I am not interested, please do not contact me again.",
        "Remove me from all future emails, thanks.",
        "please remove me",
        "Opt me out of these emails.",
        "Kindly stop sending me these messages.",
    ],
    "wrong_person_referral": [
        "I'm not the right person for this - try {colleague}, she runs RevOps.",
        "You want to talk to {colleague}, our Head of Sales Ops.",
        "I moved to a different role. {colleague} owns our CRM now.",
        "Not my area. Please reach out to {colleague} instead.",
        "I left {company} last month, you may want to contact {colleague}.",
        "Wrong person, but {colleague} handles tooling decisions here.",
        "I don't handle this - cc'ing {colleague} who manages our sales stack.",
        "This would be {colleague}'s call, not mine.",
    ],
    "compliance_threat": [
        "I never consented to this. Under GDPR I demand you delete my data immediately.",
        "This is spam. If I get one more email our lawyer will be in touch.",
        "Where did you get my data? I am filing a complaint with the ICO.",
        "You are violating CAN-SPAM. Remove me or I will report you to the FTC.",
        "Send me a copy of all personal data you hold on me (GDPR Article 15) and then erase it.",
        "Our legal department has been notified of these unsolicited emails.",
        "I will report this to the data protection authority if this continues.",
        "Cease and desist contacting me. Further emails will be forwarded to our attorney.",
    ],
}
REPLY_CLASSES = list(REPLY_TEMPLATES)

LEAD_MESSAGES = [
    "", "", "", "Would like a demo for our sales team.", "Interested in pricing for 50 seats.",
    "How does the HubSpot integration work?", "We need help cleaning up duplicates in our CRM.",
    "Looking for lead scoring.", "Please send more info.", "Saw you at the webinar, want to learn more.",
    "Can you integrate with Salesforce?", "Evaluating vendors for Q1.",
]
JUNK_MESSAGES = ["asdf", "test", "for my thesis", "just browsing", "free trial?", "hello", "", "qwerty"]

TICKET_SUBJECTS = ["Sync to HubSpot failing", "Duplicate merge looks wrong", "Cannot export report",
                   "SSO login issue", "Score changed unexpectedly", "Invoice question", "Feature request: Slack alerts",
                   "API rate limit errors", "Sequence sent twice", "Need help with onboarding"]
TICKET_CATEGORIES = ["Product issue", "Billing issue", "Feature request", "General inquiry"]
# Positive replies that ask for a meeting (a call, a demo, times): the truth meeting-intent detection is judged on.
MEETING_REQUEST_TEMPLATES = frozenset(
    REPLY_TEMPLATES["positive"][i] for i in (0, 1, 2, 3, 5, 6, 7, 8, 9)
)
